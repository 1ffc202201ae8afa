// Copy buttons of the dashboard: a button with data-copy="ID" copies the text of the element
// with that id. Without JavaScript the button stays hidden and the text is plainly selectable.
"use strict";
(() => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    const line = button.parentElement;
    const said = line && line.querySelector("[data-copied]");
    const words = line && line.querySelector("[data-copied-text]");
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(source.textContent.trim()).then(
        () => {
          if (said && words) said.textContent = words.textContent;
        },
        () => {
          // Not allowed (an insecure origin, a denied permission): select it for the reader.
          const range = document.createRange();
          range.selectNodeContents(source);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        },
      );
    });
  }
})();
