/* On every reporter page: the quick exit, and the receipt that must not be lost. */
"use strict";
(function () {
  const exit = document.querySelector("[data-quick-exit]");
  let guardLeaving = null;

  /* Leave at once for a neutral site. replace(), so that Back does not return here; the
     forms are cleared first, so nothing is left on the page behind. */
  function quickExit(event) {
    if (event) event.preventDefault();
    if (guardLeaving) window.removeEventListener("beforeunload", guardLeaving);
    document.querySelectorAll("form").forEach((form) => form.reset());
    document.querySelectorAll("[data-testid=receipt]").forEach((el) => { el.textContent = ""; });
    window.location.replace(exit.href);
  }

  if (exit) exit.addEventListener("click", quickExit);
  let lastEscape = 0;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !exit) return;
    const now = Date.now();
    if (now - lastEscape < 1500) quickExit();
    lastEscape = now;
  });

  document.querySelectorAll("[data-js-only]").forEach((element) => { element.hidden = false; });

  /* A form marked data-needs-script posts a report or a receipt in the clear when no script
     takes it over. With JavaScript off the page warns of that beforehand (<noscript>); with
     JavaScript on, a page script that was blocked or failed its integrity check would let it
     happen without the warning. So, while JavaScript runs, such a form is held until its
     script says it has taken over (data-script-ready), and the page says what happened. */
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-needs-script")) return;
    if (form.dataset.scriptReady === "yes") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    document.querySelectorAll("[data-script-missing]").forEach((box) => { box.hidden = false; });
  }, true);

  /* The receipt is shown once. Leaving needs the "I have written it down" tick: people lose
     receipts by clicking away too fast. */
  function armReceipt(view, receipt) {
    const shown = view.querySelector("[data-testid=receipt]");
    const confirm = view.querySelector("[data-testid=receipt-confirm]");
    const done = view.querySelector("#receipt-done");
    const copy = view.querySelector("#copy-receipt");
    const leaveMessage = (document.getElementById("report-form") || document.body)
      .dataset.msgLeave || "";
    if (receipt) shown.textContent = receipt;
    guardLeaving = (event) => {
      if (confirm.checked) return undefined;
      event.preventDefault();
      event.returnValue = leaveMessage;
      return leaveMessage;
    };
    window.addEventListener("beforeunload", guardLeaving);
    const update = () => done.setAttribute("aria-disabled", confirm.checked ? "false" : "true");
    confirm.addEventListener("change", update);
    update();
    done.addEventListener("click", (event) => {
      if (!confirm.checked) {
        event.preventDefault();
        confirm.focus();
      }
    });
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", () => navigator.clipboard.writeText(shown.textContent));
    }
  }

  /* The receipt view, when the page holds everything show() needs; else null. */
  function receiptView() {
    const view = document.getElementById("receipt-view");
    if (!view || !document.getElementById("report-view")) return null;
    const needed = ["[data-testid=receipt]", "[data-testid=receipt-confirm]", "#receipt-done"];
    return needed.every((selector) => view.querySelector(selector)) ? view : null;
  }

  window.HrdReceipt = Object.freeze({
    /* Asked by the report form before it sends anything: a report stored with no way to
       show its receipt is lost to the reporter. */
    canShow: function () {
      return receiptView() !== null;
    },
    show: function (receipt) {
      const view = receiptView();
      view.querySelector("[data-testid=receipt]").textContent = receipt;
      document.getElementById("report-view").hidden = true;
      view.hidden = false;
      armReceipt(view, receipt);
      window.scrollTo(0, 0);
    },
  });

  // The page that shows a receipt sealed by the server (only seen with JavaScript when the
  // reporter turned it on afterwards, but guarded all the same).
  const sent = document.querySelector(".receipt-view:not([hidden])");
  if (sent && sent.querySelector("[data-testid=receipt]").textContent.trim()) armReceipt(sent, null);
})();
