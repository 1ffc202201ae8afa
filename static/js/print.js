// A "print" button for a page whose content must go to paper (the recovery key). Without
// JavaScript the button stays hidden and the page says to use the browser's own print.
"use strict";
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
