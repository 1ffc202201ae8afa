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
    document.querySelectorAll("[data-testid=receipt], [data-testid=receipt-latin]")
      .forEach((el) => { el.textContent = ""; });
    window.location.replace(exit.href);
  }

  if (exit) exit.addEventListener("click", quickExit);

  /* Focus an element of this page and bring it into view; one that cannot take the focus by
     itself (a heading, <main>) is made able to. */
  function focusOn(target) {
    if (!target) return;
    if (target.tabIndex < 0 && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus();
    target.scrollIntoView({ block: "center" });
  }

  /* The desk keeps one entry in the browser's history: a link to another of its pages
     replaces the current entry instead of adding one, and a link within the page (the skip
     link, the error summary's) moves the focus without adding one. So the quick exit, which
     replaces that one entry, leaves Back with nothing of the desk to return to: someone who
     takes the phone and presses Back lands where the reporter was before the desk. Links
     opened another way (a new tab, a modifier key) are left to the browser. */
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey ||
        event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    event.preventDefault();
    const here = url.pathname === window.location.pathname && url.search === window.location.search;
    if (here && url.hash) focusOn(document.getElementById(decodeURIComponent(url.hash.slice(1))));
    else window.location.replace(url.href);
  });
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

  /* A receipt in the digits of the page (Arabic-Indic on Arabic and Sorani pages, as the
     server writes them: <html data-digits>); typed back, any digits are accepted. */
  function inPageDigits(receipt) {
    const digits = document.documentElement.dataset.digits || "0123456789";
    return receipt.replace(/[0-9]/g, (d) => digits[d.charCodeAt(0) - 48]);
  }

  /* The receipt in the page's digits, and, on a page whose digits are not those of every
     keyboard, again in those (any digits open the inbox). */
  function showReceipt(view, receipt) {
    view.querySelector("[data-testid=receipt]").textContent = inPageDigits(receipt);
    const latin = view.querySelector("[data-testid=receipt-latin]");
    if (latin) latin.textContent = receipt;
  }

  /* The receipt is shown once. Leaving needs the "I have written it down" tick: people lose
     receipts by clicking away too fast. */
  function armReceipt(view, receipt) {
    const shown = view.querySelector("[data-testid=receipt]");
    const confirm = view.querySelector("[data-testid=receipt-confirm]");
    const done = view.querySelector("#receipt-done");
    const copy = view.querySelector("#copy-receipt");
    const leaveMessage = (document.getElementById("report-form") || document.body)
      .dataset.msgLeave || "";
    if (receipt) showReceipt(view, receipt);
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
      const status = view.querySelector("[data-testid=copy-status]");
      copy.hidden = false;
      copy.addEventListener("click", () => {
        status.textContent = "";
        navigator.clipboard.writeText(shown.textContent).then(
          () => { status.textContent = copy.dataset.msgCopied; },
          () => { status.textContent = copy.dataset.msgNotCopied; });
      });
    }
  }

  /* The receipt view, when the page holds everything show() needs; else null. */
  function receiptView() {
    const view = document.getElementById("receipt-view");
    if (!view || !document.getElementById("report-view")) return null;
    const needed = ["[data-testid=receipt]", "[data-testid=receipt-confirm]", "#receipt-done"];
    return needed.every((selector) => view.querySelector(selector)) ? view : null;
  }

  /* The error summary (templates/reporter/_fields.html): every problem at the top of the
     page, each linked to its field, which is marked invalid and carries the message too; the
     summary takes the focus, so a screen reader reads it at once. The same for what the
     page's scripts find and for what the server refused. */
  const summary = document.querySelector("[data-error-summary]");

  function clearErrors() {
    if (!summary) return;
    const list = summary.querySelector("[data-error-list]");
    summary.hidden = true;
    list.hidden = true;
    list.replaceChildren();
    document.querySelectorAll("[data-field-problem]").forEach((p) => p.remove());
    document.querySelectorAll("[aria-invalid]").forEach((field) => {
      field.removeAttribute("aria-invalid");
      if ((field.getAttribute("aria-describedby") || "").endsWith("-problem")) {
        field.removeAttribute("aria-describedby");
      }
    });
  }

  /* Marks the field (every box of a group) and puts the message before it. */
  function markField(id, message) {
    const first = document.getElementById(id);
    if (!first) return false;
    const group = first.name && first.form ? Array.from(first.form.elements).filter(
      (element) => element.name === first.name) : [first];
    const note = document.createElement("p");
    note.className = "problem";
    note.id = id + "-problem";
    note.dataset.fieldProblem = "";
    note.textContent = message;
    const place = first.closest(".choices") || first;
    place.parentNode.insertBefore(note, place);
    group.forEach((field) => {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
    });
    return true;
  }

  /* ``problems``: [{message, field (an element id, or none), extra (a node to add)}]. */
  function showErrors(problems) {
    if (!summary) return;
    clearErrors();
    const list = summary.querySelector("[data-error-list]");
    problems.forEach((problem) => {
      const item = document.createElement("li");
      if (problem.field && markField(problem.field, problem.message)) {
        const link = document.createElement("a");
        link.href = "#" + problem.field;
        link.textContent = problem.message;
        item.append(link);
      } else {
        item.textContent = problem.message;
      }
      if (problem.extra) item.append(" ", problem.extra);
      list.append(item);
    });
    list.hidden = false;
    summary.hidden = false;
    focusOn(summary);
  }

  window.HrdErrors = Object.freeze({ show: showErrors, clear: clearErrors, inPageDigits });

  window.HrdReceipt = Object.freeze({
    /* Asked by the report form before it sends anything: a report stored with no way to
       show its receipt is lost to the reporter. */
    canShow: function () {
      return receiptView() !== null;
    },
    show: function (receipt) {
      const view = receiptView();
      showReceipt(view, receipt);
      document.getElementById("report-view").hidden = true;
      view.hidden = false;
      armReceipt(view, receipt);
      window.scrollTo(0, 0);
      view.querySelector("[data-testid=receipt]").focus();
    },
  });

  // The page that shows a receipt sealed by the server (only seen with JavaScript when the
  // reporter turned it on afterwards, but guarded all the same).
  const sent = document.querySelector(".receipt-view:not([hidden])");
  if (sent && sent.querySelector("[data-testid=receipt]").textContent.trim()) armReceipt(sent, null);
})();
