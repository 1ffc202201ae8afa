/* What the reporter's scripts share when they talk to the API: requests that carry nothing of
 * the browser (no cookie, no referrer, nothing cached, no redirect followed), and the proof of
 * work that guards every submission and inbox request, solved in a Web Worker so the page
 * stays responsive. Exposed as window.HrdApi.
 */
"use strict";
(function () {
  const REQUEST = Object.freeze({
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer", redirect: "error",
  });

  async function getJson(path) {
    const response = await fetch(path, REQUEST);
    if (!response.ok) throw new Error(path + " answered " + response.status);
    return response.json();
  }

  function postJson(path, body) {
    return fetch(path, Object.assign({
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }, REQUEST));
  }

  function solve(workerUrl, challenge, onProgress) {
    return new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl);
      worker.onmessage = (event) => {
        if ("progress" in event.data) return onProgress(event.data.progress);
        worker.terminate();
        if ("counter" in event.data) resolve(event.data.counter);
        else reject(new Error(event.data.error));
      };
      worker.onerror = (event) => {
        worker.terminate();
        reject(new Error(event.message || "worker failed"));
      };
      worker.postMessage({ challenge: challenge.challenge, difficulty: challenge.difficulty });
    });
  }

  /* A fresh challenge, solved: good for one request (the server remembers spent ones).
     ``onProgress`` gets the share of the expected work done, from 0 to 1. */
  async function proofOfWork(workerUrl, onProgress) {
    const challenge = await getJson("/api/v1/challenge");
    if (challenge.algorithm !== "sha256-leading-zero-bits") throw new Error("unknown challenge");
    const counter = await solve(workerUrl, challenge, onProgress);
    return { challenge: challenge.challenge, counter: counter };
  }

  window.HrdApi = Object.freeze({ getJson: getJson, postJson: postJson, proofOfWork: proofOfWork });
})();
