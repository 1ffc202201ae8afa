/* The reporter's inbox, with JavaScript: the receipt never leaves the browser.
 *
 * The keys are derived here from the typed receipt and kept only in this closure (no storage
 * of any kind, so a seized phone keeps nothing once the page is closed); the server sees the
 * lookup token and ciphertext, and every text it sends back is shown with textContent, never
 * parsed as markup: replies come from the desk, and anything in them is a possible attack on
 * the reporter's page. Fails closed: on any error nothing more is sent, and a message says
 * what happened. The forms are never posted in the clear from here.
 */
"use strict";
(function () {
  const form = document.getElementById("inbox-form");
  if (!form) return;
  const text = form.dataset;
  const script = document.currentScript;
  const workerUrl = script ? script.dataset.worker : "/static/js/pow-worker.js";
  const receiptInput = document.getElementById("receipt");
  const progress = document.getElementById("inbox-progress");
  const progressText = document.getElementById("inbox-progress-text");
  const progressBar = document.getElementById("inbox-progress-bar");
  const errorList = document.getElementById("inbox-error");
  const withdrawnNotice = document.getElementById("inbox-withdrawn");
  const view = document.getElementById("inbox-view");
  const stageText = view.querySelector("[data-testid=inbox-stage]");
  const sentNotice = document.getElementById("inbox-sent");
  const empty = document.getElementById("inbox-empty");
  const list = document.getElementById("inbox-messages");
  const messageForm = document.getElementById("message-form");
  const messageText = document.getElementById("message-text");
  const withdrawForm = document.getElementById("withdraw-form");
  const confirmBox = withdrawForm.querySelector("input[name=confirm_withdraw]");
  const files = window.HrdFiles && window.HRDAttachments ? HrdFiles.attach(messageForm) : null;
  const buttons = [form, messageForm, withdrawForm].map(
    (where) => where.querySelector('button[type="submit"]'));

  // The page's language, for the desk's own words on the stage (not the browser's language).
  const inboxPath = "/api/v1/inbox?lang=" + encodeURIComponent(document.documentElement.lang);
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const DAY = /^\d{4}-\d{2}-\d{2}$/;
  const SENDERS = { desk: text.msgDesk, reporter: text.msgYou };
  const own = (table, key) => typeof key === "string" &&
    Object.prototype.hasOwnProperty.call(table, key);
  const STAGES = {
    received: text.stageReceived,
    reviewing: text.stageReviewing,
    action: text.stageAction,
    closed: text.stageClosed,
    referred: text.stageReferred,
  };

  // Only here: the lookup token, the message key and the private key of the open receipt, and
  // the id of its report. Dropped on withdrawal, on a receipt that leads nowhere, and when the
  // page goes away.
  let keys = null;
  let reportId = null;
  let busy = false;
  // A message sent that got no answer (the connection dropped, or the server was busy): sent
  // again unchanged, with its id and its very ciphertext, the desk stores it once however
  // often it is tried, instead of once per try.
  let unanswered = null;

  const supported = Boolean(window.crypto && crypto.subtle && crypto.randomUUID &&
    window.Worker && window.fetch && typeof BigInt === "function" &&
    window.HPKE && window.HrdEnvelope && window.HrdApi);

  const filesSupported = () => Boolean(window.HRDAttachments && window.HRDMetadata && files &&
    HPKE.sha256 && typeof HPKE.sha256.create === "function");

  /* A refusal the reporter should read as it is, rather than "something went wrong". */
  class Shown extends Error {
    constructor(message, field) {
      super(message);
      this.shown = message;
      this.field = field;  // the id of the field to blame, if one is
    }
  }

  // With JavaScript, the receipt is typed once, in the form at the top: the other forms use
  // the keys held here, and their receipt fields must not block them.
  document.querySelectorAll("#message-form .no-js-only, #withdraw-form .no-js-only")
    .forEach((element) => {
      element.hidden = true;
      element.querySelectorAll("input").forEach((input) => {
        input.required = false;
        input.disabled = true;
      });
    });

  /* Progress shows next to the button that was pressed; errors in the summary at the top. */
  function placeFeedback(where) {
    where.insertBefore(progress, where.querySelector('button[type="submit"]'));
  }

  function showProgress(message, percent) {
    progress.hidden = false;
    progressText.textContent = message;
    progressBar.value = Math.round(percent);
  }

  /* In the error summary (reporter.js), linked to ``field`` (an element id) if one is given. */
  function showError(message, field) {
    progress.hidden = true;
    if (window.HrdErrors) return window.HrdErrors.show([{ message: message, field: field }]);
    // Without reporter.js (blocked, or refused by its integrity check), plainly.
    const summary = document.querySelector("[data-error-summary]");
    const item = document.createElement("li");
    item.textContent = message;
    errorList.replaceChildren(item);
    errorList.hidden = false;
    summary.hidden = false;
    summary.focus();
  }

  function clearFeedback() {
    if (window.HrdErrors) window.HrdErrors.clear();
    else errorList.hidden = true;
    sentNotice.hidden = true;
    withdrawnNotice.hidden = true;
  }

  function forget() {
    if (keys) {
      keys.lookupToken.fill(0);
      keys.messageKey.fill(0);
    }
    keys = null;
    reportId = null;
    unanswered = null;
    view.hidden = true;
    stageText.textContent = "";
    list.replaceChildren();
    messageText.value = "";
    confirmBox.checked = false;
  }

  /* A fresh proof of work for one request: the server spends it even on a refusal. */
  function proofOfWork(from, to) {
    showProgress(text.msgWorking, from);
    return HrdApi.proofOfWork(
      workerUrl, (done) => showProgress(text.msgWorking, from + (to - from) * done));
  }

  /* The lookup token and a proof of work: what every inbox request carries. */
  async function query(from, to) {
    return { proof_of_work: await proofOfWork(from, to),
             lookup_token: HrdEnvelope.toBase64(keys.lookupToken) };
  }

  /* A receipt that leads nowhere (never sent, withdrawn, destroyed): one answer for all. */
  function nothingFound() {
    forget();
    return new Shown(text.msgNothingFound);
  }

  function checkedInbox(inbox) {
    const valid = inbox && typeof inbox.found === "boolean" && Array.isArray(inbox.messages) &&
      (!inbox.found || (UUID.test(inbox.report_id) && inbox.messages.every((message) =>
        message && UUID.test(message.id) && own(SENDERS, message.sender) &&
        DAY.test(message.sent_on) && typeof message.sent_on_text === "string" &&
        typeof message.ciphertext === "string")));
    if (!valid) throw new Error("the inbox answer is malformed");
    return inbox;
  }

  async function openMessage(message) {
    try {
      const blob = HrdEnvelope.fromBase64(message.ciphertext);
      if (message.sender === "desk") {
        return await HrdEnvelope.openReply(keys, blob, reportId, message.id);
      }
      return await HrdEnvelope.decryptReporterMessage(keys, blob, reportId, message.id);
    } catch (error) {
      return null;
    }
  }

  /* One message, built like the server-rendered ones; every text is textContent. */
  function messageItem(message, opened) {
    const item = document.createElement("li");
    item.className = "message from-" + message.sender;
    item.dataset.testid = "inbox-message";
    item.dataset.sender = message.sender;
    const meta = document.createElement("p");
    meta.className = "message-meta";
    // The day as the page's language writes it (the server's words for it), isolated from
    // the sentence around it.
    const day = document.createElement("bdi");
    day.textContent = message.sent_on_text.slice(0, 64);
    meta.append(SENDERS[message.sender] + " · ", day);
    const body = document.createElement("p");
    body.className = "message-text";
    if (opened === null) {
      item.classList.add("unreadable");
      body.textContent = text.msgUnreadable;
    } else {
      body.dir = "auto";
      body.textContent = opened;
    }
    item.append(meta, body);
    return item;
  }

  /* Ask for the inbox of the keys held, open every message here, and show it. */
  async function load(from, to) {
    const response = await HrdApi.postJson(inboxPath, await query(from, to));
    if (!response.ok) throw new Error("the inbox answered " + response.status);
    const inbox = checkedInbox(await response.json());
    if (!inbox.found) throw nothingFound();
    reportId = inbox.report_id;
    const opened = [];
    for (const message of inbox.messages) opened.push(await openMessage(message));
    stageText.textContent = (typeof inbox.stage_message === "string" && inbox.stage_message) ||
      (own(STAGES, inbox.stage) ? STAGES[inbox.stage] : "");
    list.replaceChildren(...inbox.messages.map((message, i) => messageItem(message, opened[i])));
    empty.hidden = inbox.messages.length > 0;
    messageForm.hidden = inbox.can_write !== true;
    view.hidden = false;
  }

  /* One action at a time, every button held while it runs; any error is shown, not thrown. */
  async function run(where, action) {
    if (busy) return;
    clearFeedback();
    placeFeedback(where);
    if (!supported) return showError(text.msgUnsupported);
    busy = true;
    buttons.forEach((button) => { button.disabled = true; });
    try {
      await action();
    } catch (error) {
      if (error && error.shown) showError(error.shown, error.field);
      else showError(text.msgFailed);
    } finally {
      busy = false;
      buttons.forEach((button) => { button.disabled = false; });
      progress.hidden = true;
    }
  }

  form.addEventListener("submit", (event) => {
    // Never let the browser post the receipt once this script runs.
    event.preventDefault();
    run(form, async () => {
      let derived;
      try {
        derived = await HrdEnvelope.deriveReceiptKeys(receiptInput.value);
      } catch (error) {
        if (error instanceof HrdEnvelope.InvalidReceipt) throw new Shown(text.msgMistyped, "receipt");
        throw error;
      }
      forget();
      derived.seed.fill(0);
      keys = { lookupToken: derived.lookupToken, messageKey: derived.messageKey,
               privateKey: derived.privateKey };
      showProgress(text.msgOpening, 2);
      await load(5, 90);
      // The receipt is not left on the screen once the inbox is open.
      receiptInput.value = "";
    });
  });

  /* The message's files, uploaded under the message key: [{id, record}]. */
  async function sendFiles(message) {
    let current = 0;
    try {
      return await HRDAttachments.sendAll(message.uploads, {
        sourceKey: keys.messageKey, reportId: message.reportId, messageId: message.messageId,
        proofOfWork: () => HrdApi.proofOfWork(workerUrl, () => {}),
        onProgress: (index, done, total) => {
          current = index;
          files.progress(index, done, total);
        },
        onOverall: (share) => showProgress(
          files.sending(current + 1, message.choices.length), 2 + 48 * share),
      });
    } catch (error) {
      const refused = error instanceof HRDAttachments.FileRefused &&
        files.refusal(error.code, error.index);
      throw refused ? new Shown(refused) : error;
    }
  }

  messageForm.addEventListener("submit", (event) => {
    event.preventDefault();
    run(messageForm, async () => {
      if (!keys) throw new Error("no inbox is open");
      const words = messageText.value.trim();
      if (!words) throw new Shown(text.msgEmpty, "message-text");
      if (new TextEncoder().encode(words).length > HrdEnvelope.MAX_MESSAGE_BYTES) {
        throw new Shown(text.msgTooLong, "message-text");
      }
      const chosen = files ? files.check() : { choices: [] };
      if (chosen.problem) throw new Shown(chosen.problem, "message-files");
      const choices = chosen.choices;
      if (choices.length && !filesSupported()) throw new Shown(text.msgFilesUnsupported);
      showProgress(text.msgSending, 2);
      const sameFiles = unanswered && unanswered.choices.length === choices.length &&
        unanswered.choices.every((old, i) => old.file === choices[i].file &&
                                             old.keepOriginal === choices[i].keepOriginal);
      if (!unanswered || unanswered.words !== words || unanswered.reportId !== reportId ||
          !sameFiles) {
        const messageId = crypto.randomUUID();
        const sealed = await HrdEnvelope.encryptReporterMessage(keys, words, reportId, messageId);
        // The files go under the message key, bound to this message: sent again with it,
        // their uploads resume instead of starting over.
        unanswered = { words, reportId, messageId, ciphertext: HrdEnvelope.toBase64(sealed),
                       choices: choices,
                       uploads: window.HRDAttachments ? HRDAttachments.plan(choices) : [] };
      }
      let attachments = [];
      if (choices.length) attachments = await sendFiles(unanswered);
      const body = await query(choices.length ? 50 : 5, 60);
      body.message = { id: unanswered.messageId, ciphertext: unanswered.ciphertext };
      if (attachments.length) body.message.attachments = attachments;
      showProgress(text.msgSending, 60);
      const response = await HrdApi.postJson("/api/v1/inbox/messages", body);
      // Stored, or the inbox is gone: done with it. Any other answer (a spent proof of work,
      // a busy server) leaves it as it was, to be sent unchanged next time.
      if (response.status === 201 || response.status === 404) unanswered = null;
      if (response.status === 404) throw nothingFound();
      if (response.status !== 201) throw new Error("the message was refused: " + response.status);
      messageText.value = "";
      if (files) files.clear();
      try {
        await load(65, 95);
      } catch (error) {
        if (error && error.shown) throw error;
        throw new Shown(text.msgNotRefreshed);
      }
      sentNotice.hidden = false;
    });
  });

  withdrawForm.addEventListener("submit", (event) => {
    event.preventDefault();
    run(withdrawForm, async () => {
      if (!keys) throw new Error("no inbox is open");
      if (!confirmBox.checked) throw new Shown(text.msgConfirm, "confirm-withdraw");
      showProgress(text.msgWithdrawing, 2);
      const response = await HrdApi.postJson("/api/v1/inbox/withdraw", await query(5, 90));
      if (response.status === 404) throw nothingFound();
      if (!response.ok) throw new Error("the withdrawal was refused: " + response.status);
      const outcome = await response.json();
      forget();
      // Destroyed now, or kept for the desk's grace period first: the page says which.
      const destroyed = outcome.destroyed !== false;
      withdrawnNotice.querySelector("[data-withdrawn=destroyed]").hidden = !destroyed;
      withdrawnNotice.querySelector("[data-withdrawn=kept]").hidden = destroyed;
      withdrawnNotice.hidden = false;
      withdrawnNotice.scrollIntoView({ block: "center" });
    });
  });

  // Nothing of the conversation is left for Back or a restored tab to show.
  window.addEventListener("pagehide", forget);

  // reporter.js holds these forms until this point: from here on none posts the receipt.
  [form, messageForm, withdrawForm].forEach((where) => { where.dataset.scriptReady = "yes"; });
})();
