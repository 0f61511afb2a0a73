/** The composer: "Message" textbox, "Send", "Attach file" (also drag and drop or paste), emoji, progress. */
import { useRef, useState } from "preact/hooks";
import type { ComposerViewModel } from "../viewmodels/ComposerViewModel";
import { ErrorText } from "./common";
import { EmojiPicker } from "./EmojiPicker";

export function ComposerView({ vm, label = "Message" }: { vm: ComposerViewModel; label?: string }) {
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const inThread = label !== "Message";
  const files = (list: FileList | null | undefined) => {
    for (const file of Array.from(list ?? [])) void vm.attach(file);
  };
  const upload = vm.upload.value;
  const editing = vm.editing.value;
  const replyTo = vm.replyTo.value;
  return (
    <form class={`composer ${dragging ? "dragging" : ""}`} aria-label={inThread ? "Thread composer" : "Composer"}
      onSubmit={(e) => { e.preventDefault(); void vm.send(); input.current?.focus(); }}
      onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => { e.preventDefault(); setDragging(false); files(e.dataTransfer?.files); }}>
      {(editing || replyTo) && (
        <div class="composer-context">
          {editing ? <span>Editing your message</span> : <span>Replying to <strong>{replyTo!.senderName}</strong>: {replyTo!.body.slice(0, 80)}</span>}
          <button type="button" class="icon" aria-label={editing ? "Cancel edit" : "Cancel reply"} onClick={() => vm.cancel()}>✕</button>
        </div>
      )}
      {upload && (
        <div class="upload">
          <span>Uploading {upload.name}</span>
          <progress aria-label="Upload progress" max={upload.total || 1} value={upload.loaded} />
        </div>
      )}
      <ErrorText error={vm.error.value} />
      <div class="composer-row">
        <button type="button" class="icon" aria-label={inThread ? "Attach file to thread" : "Attach file"} onClick={() => fileInput.current?.click()}>📎</button>
        <input ref={fileInput} type="file" multiple hidden tabIndex={-1} aria-hidden="true"
          onChange={(e) => { files(e.currentTarget.files); e.currentTarget.value = ""; }} />
        <textarea ref={input} aria-label={label} rows={1} placeholder={inThread ? "Reply in thread…" : "Write a message…"}
          value={vm.text.value}
          onInput={(e) => vm.setText(e.currentTarget.value)}
          onPaste={(e) => { if (e.clipboardData?.files.length) { e.preventDefault(); files(e.clipboardData.files); } }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); void vm.send(); }
            else if (e.key === "Escape") vm.cancel();
          }} />
        <EmojiPicker label={inThread ? "Emoji for thread" : "Emoji"} onPick={(emoji) => { vm.setText(vm.text.value + emoji); input.current?.focus(); }} />
        <button type="submit" class="primary">{inThread ? "Send reply" : editing ? "Save" : "Send"}</button>
      </div>
    </form>
  );
}
