/** Received HTML is sanitised to the spec's suggested subset before it is shown. */
import DOMPurify from "dompurify";

const ALLOWED_TAGS = [
  "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol", "sup", "sub", "li", "b",
  "i", "u", "strong", "em", "strike", "s", "code", "hr", "br", "div", "table", "thead", "tbody", "tr", "th", "td",
  "caption", "pre", "span", "details", "summary",
];

export function sanitizeHtml(html: string): string {
  const clean = DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ["href", "title", "colspan", "rowspan", "start", "class"],
    ALLOWED_URI_REGEXP: /^(?:https?|mailto|matrix):/i,
  });
  return String(clean);
}

/** A reply's quoted fallback (<mx-reply>) is dropped: replies are shown from the relation. */
export function stripReplyFallback(html: string): string {
  return html.replace(/<mx-reply>[\s\S]*?<\/mx-reply>/gi, "");
}

export function stripBodyReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith("> ")) i++;
  if (i > 0 && i < lines.length && lines[i] === "") return lines.slice(i + 1).join("\n");
  return body;
}
