// Small DOM helpers. Text goes in through textContent only: log records carry whatever clients sent.

/** One table cell: its text, and optionally a test id, a tooltip and a class. */
export interface Cell {
  text: string;
  testid?: string;
  title?: string;
  className?: string;
}

/** The element with `data-testid="<id>"`; the page's HTML defines them all. */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`the page has no [data-testid="${id}"]`);
  return el;
}

/** Replaces a table body's rows. */
export function setRows(tbody: HTMLTableSectionElement, rowTestId: string, rows: readonly Cell[][], empty: string): void {
  const trs = rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = rowTestId;
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c.text;
      if (c.testid) td.dataset.testid = c.testid;
      if (c.title) td.title = c.title;
      if (c.className) td.className = c.className;
      tr.append(td);
    }
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = tbody.parentElement?.querySelectorAll("th").length ?? 1;
    td.className = "empty";
    td.textContent = empty;
    tr.append(td);
    trs.push(tr);
  }
  tbody.replaceChildren(...trs);
}

/** Shows a panel's error line (or hides it when `message` is undefined); the panel keeps its last data. */
export function setError(el: HTMLElement, message: string | undefined): void {
  el.hidden = message === undefined;
  el.textContent = message ?? "";
  el.closest("section")?.classList.toggle("stale", message !== undefined);
}

/** A status as a CSS class: `Running` → `status-running`. */
export function statusClass(status: string): string {
  return `status status-${status.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
}
