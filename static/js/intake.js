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
  const sendError = document.getElementById("send-error");
  const submitButton = form.querySelector('button[type="submit"]');
  let busy = false;

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

  function showError(message, receipt) {
    progress.hidden = true;
    sendError.textContent = message;
    if (receipt) {
      // Digit groups read left to right, on a right-to-left page too.
      const shown = document.createElement("span");
      shown.className = "receipt";
      shown.dir = "ltr";
      shown.lang = "en";
      shown.dataset.testid = "receipt-fallback";
      shown.textContent = receipt;
      sendError.append(" ", shown);
    }
    sendError.hidden = false;
    sendError.scrollIntoView({ block: "center" });
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

  function missing(report) {
    if (report.incident_types.length === 0) return text.msgIncidentType;
    if (!report.narrative.trim()) return text.msgNarrative;
    return null;
  }

  async function send(report) {
    showProgress(text.msgPreparing, 2);
    const content = new TextEncoder().encode(JSON.stringify(report));
    showProgress(text.msgWorking, 5);
    const [key, proof] = await Promise.all([
      HrdApi.getJson("/api/v1/intake-key"),
      HrdApi.proofOfWork(workerUrl, (done) => showProgress(text.msgWorking, 5 + 75 * done)),
    ]);
    showProgress(text.msgEncrypting, 85);
    const receipt = HrdEnvelope.generateReceipt();
    const envelope = await HrdEnvelope.buildSubmission(content, {
      keyId: key.key_id, suite: key.suite, publicKey: HrdEnvelope.fromBase64(key.public_key),
    }, receipt);
    showProgress(text.msgSending, 95);
    const response = await HrdApi.postJson(
      "/api/v1/reports", { proof_of_work: proof, envelope: envelope });
    if (response.status === 409) throw Object.assign(new Error("key changed"), { keyChanged: true });
    if (response.status !== 201) throw new Error("refused with " + response.status);
    return receipt;
  }

  form.addEventListener("submit", async (event) => {
    // Never let the browser post the form in the clear once this script runs.
    event.preventDefault();
    if (busy) return;
    sendError.hidden = true;
    if (!supported()) return showError(text.msgUnsupported);
    const report = collect();
    const problem = missing(report);
    if (problem) return showError(problem);
    busy = true;
    submitButton.disabled = true;
    let receipt = null;
    try {
      receipt = await send(report);
      // The report is stored: its receipt goes on the screen first, and only then are the
      // words cleared from the page.
      window.HrdReceipt.show(receipt);
      form.reset();
    } catch (error) {
      if (receipt) {
        // Stored, but the receipt view failed: the receipt is shown here instead, and this
        // page sends nothing more (the same report again would lose that receipt too).
        const reportView = document.getElementById("report-view");
        if (reportView) reportView.hidden = false;
        showError(text.msgReceiptFallback, receipt);
        return;
      }
      showError(error && error.keyChanged ? text.msgKeyChanged : text.msgFailed);
    } finally {
      progress.hidden = true;
    }
    busy = false;
    submitButton.disabled = false;
  });
  // reporter.js holds the form until this point: from here on it never posts in the clear.
  form.dataset.scriptReady = "yes";
})();
