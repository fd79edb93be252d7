// siteplan app: helpers every page may use. Values from the server are put into the page as text, never as HTML.
"use strict";
window.siteplan = {
  async json(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options || {}));
    if (!response.ok) throw new Error(await response.text());
    return response.json();
  },
  // a table cell or any element holding `value` as text
  el(tag, value, cls) {
    const e = document.createElement(tag);
    if (value !== undefined && value !== null) e.textContent = String(value);
    if (cls) e.className = cls;
    return e;
  },
  // rows of a block copied from Excel: lines of tab-separated cells (a trailing empty line dropped)
  rows(text) {
    const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
    return lines.map((line) => line.split("\t").map((c) => c.trim()));
  },
  // "1,200" "1 200" "１２００" -> 1200; "" -> null; anything else -> NaN
  number(text) {
    const s = String(text).replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/[,，\s]/g, "");
    if (s === "") return null;
    return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  },
};
