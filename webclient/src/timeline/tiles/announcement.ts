/** One-line texts for membership and room-state changes shown in the timeline. */
import { EventType, type MatrixEvent } from "matrix-js-sdk";

export function announcementText(event: MatrixEvent, name: (userId: string) => string): string | null {
  const sender = name(event.getSender() ?? "");
  const content = event.getContent();
  switch (event.getType()) {
    case EventType.RoomCreate:
      return `${sender} created the room`;
    case EventType.RoomMember: {
      const target = content.displayname || name(event.getStateKey() ?? "");
      const prev = event.getPrevContent().membership;
      switch (content.membership) {
        case "invite": return `${sender} invited ${target}`;
        case "join":
          if (prev === "join") return content.displayname !== event.getPrevContent().displayname ? `${event.getPrevContent().displayname ?? target} is now ${target}` : null;
          return `${target} joined`;
        case "leave":
          if (event.getStateKey() !== event.getSender()) return prev === "invite" ? `${sender} withdrew ${target}'s invitation` : `${sender} removed ${target}`;
          return prev === "invite" ? `${target} declined the invitation` : `${target} left`;
        case "ban": return `${sender} banned ${target}`;
        case "knock": return `${target} asked to join`;
        default: return null;
      }
    }
    case EventType.RoomName:
      return content.name ? `${sender} named the room ${content.name}` : `${sender} removed the room name`;
    case EventType.RoomTopic:
      return content.topic ? `${sender} set the topic: ${content.topic}` : `${sender} removed the topic`;
    case EventType.RoomEncryption:
      return `${sender} turned on end-to-end encryption`;
    case EventType.RoomAvatar:
      return `${sender} changed the room avatar`;
    default:
      return null;
  }
}
