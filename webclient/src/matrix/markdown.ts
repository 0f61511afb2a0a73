/** Basic Markdown for the composer: send HTML only when the text had formatting. */
import { Marked } from "marked";
import { sanitizeHtml } from "../timeline/html";

const marked = new Marked({ gfm: true, breaks: true, async: false });

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export interface MessageBody {
  body: string;
  format?: "org.matrix.custom.html";
  formatted_body?: string;
}

export function renderMarkdown(text: string): MessageBody {
  const html = (marked.parse(text) as string).trim();
  const unwrapped = html.replace(/^<p>([\s\S]*)<\/p>$/, "$1").replace(/<br>\n?/g, "\n");
  if (unwrapped === escapeHtml(text) || unwrapped === text) return { body: text };
  return { body: text, format: "org.matrix.custom.html", formatted_body: sanitizeHtml(html.replace(/^<p>([\s\S]*)<\/p>$/, "$1")) };
}
