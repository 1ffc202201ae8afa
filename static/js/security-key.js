// Security keys and passkeys (WebAuthn) on the dashboard's pages that ask for one.
//
// The form with id "security-key-form" carries the options the server made (data-options,
// base64url where WebAuthn wants bytes) and whether to create a key or use one
// (data-ceremony). The button asks the browser; the answer goes back in the hidden field
// "credential", as the JSON the server's library reads, and the form is sent. Nothing here
// decides anything: the server checks the answer (origin, relying party, challenge, user
// verification, signature, counter). No other origin is reached.
"use strict";
(() => {
  const form = document.getElementById("security-key-form");
  if (!form) return;
  const button = form.querySelector("[data-key-start]");
  const status = form.querySelector("[data-key-status]");
  const field = form.elements.namedItem("credential");
  // The sentences to show, in the page's language (data-msg-*).
  const messages = form.querySelector("[data-key-messages]")?.dataset || {};

  const say = (message) => {
    if (status) status.textContent = message || "";
  };

  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };

  const toText = (buffer) => {
    if (!buffer) return null;
    let raw = "";
    for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const described = (list) =>
    (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));

  const creationOptions = (options) => ({
    ...options,
    challenge: toBytes(options.challenge),
    user: { ...options.user, id: toBytes(options.user.id) },
    excludeCredentials: described(options.excludeCredentials),
  });

  const requestOptions = (options) => ({
    ...options,
    challenge: toBytes(options.challenge),
    allowCredentials: described(options.allowCredentials),
  });

  const created = (credential) => ({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toText(credential.response.clientDataJSON),
      attestationObject: toText(credential.response.attestationObject),
      transports:
        typeof credential.response.getTransports === "function"
          ? credential.response.getTransports()
          : [],
    },
  });

  const asserted = (credential) => ({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toText(credential.response.clientDataJSON),
      authenticatorData: toText(credential.response.authenticatorData),
      signature: toText(credential.response.signature),
      userHandle: toText(credential.response.userHandle),
    },
  });

  if (!window.PublicKeyCredential || !navigator.credentials || !button || !field) {
    say(messages.msgUnsupported);
    if (button) button.disabled = true;
    return;
  }

  let busy = false;
  button.addEventListener("click", async () => {
    if (busy) return;
    // The key's name (where there is one) is asked before the key: the browser's dialog
    // would otherwise come first and the form be refused after it.
    if (!form.reportValidity()) return;
    busy = true;
    button.disabled = true;
    say(messages.msgWaiting);
    const options = JSON.parse(form.dataset.options);
    try {
      let answer;
      if (form.dataset.ceremony === "create") {
        answer = created(await navigator.credentials.create({ publicKey: creationOptions(options) }));
      } else {
        answer = asserted(await navigator.credentials.get({ publicKey: requestOptions(options) }));
      }
      field.value = JSON.stringify(answer);
      form.submit();
    } catch (error) {
      // Cancelled, timed out, no key, a key already registered: the person may try again
      // with the same challenge while it lasts.
      say(messages.msgFailed);
      button.disabled = false;
      busy = false;
    }
  });
})();
