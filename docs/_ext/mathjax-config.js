// MathJax reads the \( \) and \[ \] spans that pymdownx.arithmatex writes.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, tags: "ams" },
  options: { ignoreHtmlClass: ".*", processHtmlClass: "arithmatex" },
};
