/** "Search messages": a search box and results with the matches in <mark>. */
import { format } from "date-fns";
import type { SearchViewModel } from "../viewmodels/SearchViewModel";
import { highlight } from "../viewmodels/SearchViewModel";
import { ErrorText } from "./common";

export function SearchView({ vm, onClose }: { vm: SearchViewModel; onClose: () => void }) {
  const results = vm.results.value;
  return (
    <section class="search" aria-label="Search messages">
      <form role="search" onSubmit={(e) => { e.preventDefault(); void vm.search(); }}>
        <label>Search<input type="text" autoFocus value={vm.term.value} onInput={(e) => (vm.term.value = e.currentTarget.value)} /></label>
        <button type="submit" disabled={vm.busy.value}>Find</button>
        <button type="button" class="icon" aria-label="Close search" onClick={onClose}>✕</button>
      </form>
      <p class="hint">{vm.local ? "Encrypted room: searched in this browser only." : "Searched on the server."}</p>
      <ErrorText error={vm.error.value} />
      {results && (
        <ol class="search-results" aria-label="Search results">
          {results.length === 0 && <li>No messages found.</li>}
          {results.map((r) => (
            <li key={r.eventId}>
              <strong>{r.sender}</strong> <time>{format(r.ts, "d MMM HH:mm")}</time>
              <p>{highlight(r.body, vm.term.value).map((part, i) => (part.match ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
