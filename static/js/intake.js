/* The report form, with JavaScript: encrypt in the browser, send only ciphertext.
 *
 * Fails closed: if anything goes wrong (no WebCrypto, no way to show the receipt, a refused
 * key, a network error), nothing is sent, the form keeps the reporter's words, and a message
 * says what to do. The form is never posted in the clear from here, and the words are cleared
 * only once the receipt is on the screen.
 */
"use strict";
(function () {
  const form = document.getElementById("report-form");
  if (!form) return;
  const text = form.dataset;
  const script = document.currentScript;
  const workerUrl = script ? script.dataset.worker : "/static/js/pow-worker.js";
  const progress = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const progressBar = document.getElementById("progress-bar");
  const submitButton = form.querySelector('button[type="submit"]');
  const files = window.HrdFiles && window.HRDAttachments ? HrdFiles.attach(form) : null;
  let busy = false;
  // The report's id and DEK while its files are being sent: the files are encrypted under
  // keys derived from them, so a second try after a dropped connection resumes the same
  // uploads instead of sending every file again. Dropped once the report itself was sent.
  let pending = null;

  /* Everything the encrypted path needs, to the receipt on the screen (reporter.js): asked
     before anything is sent, so that a page without some of it refuses, keeping the words,
     instead of storing a report whose receipt the reporter never sees. */
  function supported() {
    return Boolean(window.crypto && crypto.subtle && crypto.randomUUID &&
      window.Worker && window.fetch && typeof BigInt === "function" &&
      window.HPKE && window.HrdEnvelope && window.HrdApi &&
      window.HrdReceipt && window.HrdReceipt.canShow());
  }

  function showProgress(message, percent) {
    progress.hidden = false;
    progressText.textContent = message;
    progressBar.value = Math.round(percent);
  }

  /* In the error summary (reporter.js): ``problems`` is a message, or a list of
     {message, field} when fields are to blame. */
  function showError(problems, receipt) {
    progress.hidden = true;
    const list = typeof problems === "string" ? [{ message: problems }] : problems;
    if (receipt) {
      // Digit groups read left to right, on a right-to-left page too.
      const shown = document.createElement("span");
      shown.className = "receipt";
      shown.dir = "ltr";
      shown.dataset.testid = "receipt-fallback";
      // The receipt must show even when reporter.js did not load.
      shown.textContent = window.HrdErrors ? window.HrdErrors.inPageDigits(receipt) : receipt;
      list[0].extra = shown;
    }
    if (window.HrdErrors) return window.HrdErrors.show(list);
    // Without reporter.js (blocked, or refused by its integrity check) the summary is filled
    // here, plainly: the page must still say why nothing was sent.
    const summary = document.querySelector("[data-error-summary]");
    const items = summary.querySelector("[data-error-list]");
    items.replaceChildren(...list.map((problem) => {
      const item = document.createElement("li");
      item.textContent = problem.message;
      return item;
    }));
    items.hidden = false;
    summary.hidden = false;
    summary.focus();
  }

  /* The report document, built from the form exactly as content_from_form builds it. */
  function collect() {
    const data = new FormData(form);
    const first = (name) => String(data.get(name) || "").trim();
    const choice = (name) => first(name) || null;
    const all = (name) => data.getAll(name).map(String).filter((value) => value);
    const moment = (prefix) => {
      const precision = first(prefix + "_precision") || "exact";
      const date = first(prefix + "_date");
      if (precision === "unknown" || !date) return null;
      return { date: precision === "month" ? date.slice(0, 7) : date, precision: precision };
    };
    return {
      v: 1,
      incident_types: all("incident_type"),
      start: moment("start"),
      end: moment("end"),
      ongoing: first("ongoing") === "yes",
      in_danger_now: choice("in_danger_now"),
      location: {
        governorate: choice("governorate"),
        district: first("district"),
        place_type: choice("place_type"),
      },
      target: {
        who: choice("target_who"),
        sector: choice("target_sector"),
        gender: choice("target_gender"),
        age_band: choice("target_age_band"),
      },
      perpetrator: {
        types: all("perpetrator_type"),
        identification: choice("perpetrator_identification"),
        identifiers: first("perpetrator_identifiers"),
      },
      narrative: String(data.get("narrative") || ""),
      needs: all("need"),
      consent: { share: choice("consent_share"), publish: choice("consent_publish") },
    };
  }

  /* What the reporter still has to fill in, each with its field: [] when nothing. */
  function missing(report) {
    const problems = [];
    if (report.incident_types.length === 0) {
      problems.push({ message: text.msgIncidentType, field: "incident_type" });
    }
    if (!report.narrative.trim()) problems.push({ message: text.msgNarrative, field: "narrative" });
    return problems;
  }

  /* A refusal the reporter should read as it is, rather than "could not be sent". */
  class Shown extends Error {
    constructor(message) {
      super(message);
      this.shown = message;
    }
  }

  function filesSupported() {
    return Boolean(window.HRDAttachments && window.HRDMetadata && window.HrdFiles &&
      HPKE.sha256 && typeof HPKE.sha256.create === "function");
  }

  function forgetPending() {
    if (pending) pending.dek.fill(0);
    pending = null;
  }

  /* Every chosen file, uploaded under the pending report's keys: [{id, record}]. */
  async function sendFiles(choices) {
    const same = pending && pending.choices.length === choices.length &&
      pending.choices.every((old, i) => old.file === choices[i].file &&
                                        old.keepOriginal === choices[i].keepOriginal);
    if (!same) {
      forgetPending();
      pending = { reportId: crypto.randomUUID(), dek: crypto.getRandomValues(new Uint8Array(32)),
                  choices: choices, uploads: HRDAttachments.plan(choices) };
    }
    let current = 0;
    try {
      return await HRDAttachments.sendAll(pending.uploads, {
        sourceKey: pending.dek, reportId: pending.reportId, messageId: null,
        proofOfWork: () => HrdApi.proofOfWork(workerUrl, () => {}),
        onProgress: (index, done, total) => {
          current = index;
          files.progress(index, done, total);
        },
        onOverall: (share) => showProgress(files.sending(current + 1, choices.length), 2 + 60 * share),
      });
    } catch (error) {
      if (error instanceof HRDAttachments.FileRefused) {
        const message = files.refusal(error.code, error.index);
        if (message) throw new Shown(message);
      }
      throw new Shown(text.msgFilesFailed);
    }
  }

  async function refusalCode(response) {
    try {
      const body = await response.json();
      return body && body.detail && typeof body.detail.code === "string" ? body.detail.code : null;
    } catch (error) {
      return null;
    }
  }

  async function send(report, choices) {
    showProgress(text.msgPreparing, 2);
    const content = new TextEncoder().encode(JSON.stringify(report));
    const attachments = choices.length ? await sendFiles(choices) : [];
    const start = choices.length ? 65 : 5;
    showProgress(text.msgWorking, start);
    const [key, proof] = await Promise.all([
      HrdApi.getJson("/api/v1/intake-key"),
      HrdApi.proofOfWork(workerUrl,
                         (done) => showProgress(text.msgWorking, start + (80 - start) * done)),
    ]);
    showProgress(text.msgEncrypting, 85);
    // With files, the report keeps its receipt until the desk answers: when the answer to a
    // report with files is lost on the way, pressing Send again sends the same report id with
    // the same receipt, which the desk answers as received, and the receipt shown is the one
    // of the report it stored.
    const receipt = (pending && pending.receipt) || HrdEnvelope.generateReceipt();
    if (pending) pending.receipt = receipt;
    // With files, the report takes the id and DEK they were encrypted under (a copy: the
    // envelope wipes its DEK once sealed).
    const fixed = choices.length ? { reportId: pending.reportId, dek: pending.dek.slice() } : {};
    const envelope = await HrdEnvelope.buildSubmission(content, {
      keyId: key.key_id, suite: key.suite, publicKey: HrdEnvelope.fromBase64(key.public_key),
    }, receipt, fixed);
    showProgress(text.msgSending, 95);
    const body = { proof_of_work: proof, envelope: envelope };
    if (attachments.length) body.attachments = attachments;
    const response = await HrdApi.postJson("/api/v1/reports", body);
    // Whatever the answer, these uploads are spent: attached to a report, or to be sent anew.
    forgetPending();
    if (response.status === 409) {
      const code = await refusalCode(response);
      if (code === "too_many_files") throw new Shown(files.refusal(code, -1));
      if (code) throw new Shown(text.msgFilesFailed);
      throw Object.assign(new Error("key changed"), { keyChanged: true });
    }
    // The desk's disk is nearly full: nothing was stored, and sending again now would not help.
    if (response.status === 503) throw new Shown(text.msgUnavailable);
    if (response.status !== 201) throw new Error("refused with " + response.status);
    return receipt;
  }

  form.addEventListener("submit", async (event) => {
    // Never let the browser post the form in the clear once this script runs.
    event.preventDefault();
    if (busy) return;
    if (window.HrdErrors) HrdErrors.clear();
    if (!supported()) return showError(text.msgUnsupported);
    const report = collect();
    const problems = missing(report);
    if (problems.length) return showError(problems);
    const chosen = files ? files.check() : { choices: [] };
    if (chosen.problem) return showError([{ message: chosen.problem, field: "files" }]);
    if (chosen.choices.length && !filesSupported()) return showError(text.msgFilesUnsupported);
    busy = true;
    submitButton.disabled = true;
    let receipt = null;
    try {
      receipt = await send(report, chosen.choices);
      // The report is stored: its receipt goes on the screen first, and only then are the
      // words cleared from the page.
      window.HrdReceipt.show(receipt);
      form.reset();
      if (files) files.clear();
    } catch (error) {
      if (receipt) {
        // Stored, but the receipt view failed: the receipt is shown here instead, and this
        // page sends nothing more (the same report again would lose that receipt too).
        const reportView = document.getElementById("report-view");
        if (reportView) reportView.hidden = false;
        showError(text.msgReceiptFallback, receipt);
        return;
      }
      showError(error && error.shown ? error.shown
                : error && error.keyChanged ? text.msgKeyChanged : text.msgFailed);
    } finally {
      progress.hidden = true;
    }
    busy = false;
    submitButton.disabled = false;
  });
  // reporter.js holds the form until this point: from here on it never posts in the clear.
  form.dataset.scriptReady = "yes";
})();
