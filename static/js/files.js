/* The file chooser of the report form and of the inbox's message form, with JavaScript.
 *
 * Lists the chosen files; for each photo (JPEG, PNG, WebP) a "keep the original" box, off by
 * default, since a photo's metadata can say where and when it was taken and with which
 * phone; for any other file a warning that it may carry names and places. Checks the desk's
 * limits before anything is sent, and shows each file's progress. Every text comes from the
 * page (data-msg-* on the fieldset, translated there) and is shown with textContent: a file
 * name is whatever the reporter's phone called it. Exposed as window.HrdFiles.
 */
"use strict";
(function () {
  const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024;
  const DEFAULT_MAX_FILES = 20;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, name) => (name in values ? values[name] : all));
  }

  function positive(text, fallback) {
    const value = Number(text);
    return Number.isSafeInteger(value) && value > 0 ? value : fallback;
  }

  /* A number in the digits of the page, as the server writes them (reporter.js). */
  function inPageDigits(text) {
    return window.HrdErrors ? window.HrdErrors.inPageDigits(text) : text;
  }

  /* Megabytes in the page's language and its digits (Arabic-Indic on an Arabic page). */
  function sizeText(bytes) {
    const lang = document.documentElement.lang || "en";
    try {
      return inPageDigits(new Intl.NumberFormat(lang, { style: "unit", unit: "megabyte",
        maximumFractionDigits: 1 }).format(bytes / 1e6));
    } catch (error) {
      return inPageDigits((bytes / 1e6).toFixed(1) + " MB");
    }
  }

  /* The chooser inside ``form``, or null when the form has none. */
  function attach(form) {
    const box = form.querySelector("[data-files]");
    const input = box && box.querySelector("input[type=file]");
    if (!input) return null;
    const text = box.dataset;
    // Read when used: the limits are the form's as it is then.
    const maxBytes = () => positive(form.dataset.maxFileBytes, DEFAULT_MAX_FILE_BYTES);
    const maxFiles = () => positive(form.dataset.maxFiles, DEFAULT_MAX_FILES);
    const list = box.querySelector("[data-file-list]");
    let items = [];
    let generation = 0;

    // With JavaScript, each photo has its own box: the form-wide one is for pages without.
    box.querySelectorAll("[data-no-js-only]").forEach((element) => {
      element.hidden = true;
      element.querySelectorAll("input").forEach((field) => { field.disabled = true; });
    });

    function note(className, message) {
      const line = document.createElement("p");
      line.className = className;
      line.textContent = message;
      return line;
    }

    function render() {
      list.replaceChildren(...items.map((item) => {
        const entry = document.createElement("li");
        entry.className = "file";
        entry.dataset.testid = "file";
        const name = document.createElement("span");
        name.className = "file-name";
        name.dir = "auto";
        name.textContent = item.file.name;
        const size = document.createElement("span");
        size.className = "file-size";
        size.textContent = sizeText(item.file.size);
        entry.append(name, " ", size);
        if (item.file.size > maxBytes()) {
          entry.append(note("problem", fill(text.msgTooLarge, { size: sizeText(maxBytes()) })));
        } else if (item.kind) {
          const label = document.createElement("label");
          label.className = "choice";
          const keep = document.createElement("input");
          keep.type = "checkbox";
          keep.checked = item.keepOriginal;
          keep.dataset.testid = "keep-original";
          label.append(keep, " " + text.msgKeep);
          const status = note("", "");
          // Updated in place, not re-rendered: the box keeps the focus.
          const describe = () => {
            const large = item.file.size > HRDAttachments.MAX_PHOTO_BYTES;
            status.className = item.keepOriginal ? "warning" : large ? "problem" : "hint";
            status.textContent = item.keepOriginal ? text.msgKept
              : large ? text.msgPhotoTooLarge : text.msgCleaned;
          };
          keep.addEventListener("change", () => { item.keepOriginal = keep.checked; describe(); });
          describe();
          entry.append(label, status);
        } else {
          entry.append(note("warning", text.msgOther));
        }
        item.bar = document.createElement("progress");
        item.bar.max = 100;
        item.bar.value = 0;
        item.bar.hidden = true;
        entry.append(item.bar);
        return entry;
      }));
      list.hidden = items.length === 0;
      if (items.length > maxFiles()) {
        list.prepend(note("problem", fill(text.msgTooMany, { count: inPageDigits(String(maxFiles())) })));
      }
    }

    input.addEventListener("change", async () => {
      const chosen = Array.from(input.files || []);
      const mine = ++generation;
      const kinds = await Promise.all(chosen.map(async (file) => {
        try {
          return await HRDAttachments.sniff(file);
        } catch (error) {
          return null;  // unreadable now: refused with a message when it is sent
        }
      }));
      if (mine !== generation) return;  // another choice came in meanwhile
      items = chosen.map((file, i) => ({ file: file, kind: kinds[i], keepOriginal: false,
                                         bar: null }));
      render();
    });

    return {
      /* The files to send ([{file, keepOriginal}]), or the reason they cannot be. */
      check: function () {
        const tooMany = fill(text.msgTooMany, { count: inPageDigits(String(maxFiles())) });
        if (items.length > maxFiles()) return { problem: tooMany };
        const large = items.find((item) => item.file.size > maxBytes());
        const tooLarge = fill(text.msgTooLarge, { size: sizeText(maxBytes()) });
        if (large) return { problem: large.file.name + ": " + tooLarge };
        const photo = items.find((item) => item.kind && !item.keepOriginal &&
                                           item.file.size > HRDAttachments.MAX_PHOTO_BYTES);
        if (photo) return { problem: photo.file.name + ": " + text.msgPhotoTooLarge };
        return { choices: items.map((item) => ({ file: item.file,
                                                 keepOriginal: item.keepOriginal })) };
      },
      /* A refusal by code (attachments.js or the server), about file ``index``. */
      refusal: function (code, index) {
        const known = { file_too_large: fill(text.msgTooLarge, { size: sizeText(maxBytes()) }),
                        too_many_files: fill(text.msgTooMany, { count: inPageDigits(String(maxFiles())) }),
                        photo_too_large: text.msgPhotoTooLarge,
                        photo_unreadable: text.msgPhotoUnreadable,
                        storage_full: text.msgStorageFull, file_changed: text.msgFileChanged };
        const message = Object.prototype.hasOwnProperty.call(known, code) ? known[code] : null;
        const item = items[index];
        return message && item ? item.file.name + ": " + message : message;
      },
      progress: function (index, done, total) {
        const item = items[index];
        if (!item || !item.bar) return;
        item.bar.hidden = false;
        item.bar.value = Math.round(100 * done / total);
      },
      sending: function (number, total) {
        return fill(text.msgSending, { number: inPageDigits(String(number)),
                                    total: inPageDigits(String(total)) });
      },
      clear: function () {
        items = [];
        input.value = "";
        render();
      },
    };
  }

  window.HrdFiles = Object.freeze({ attach: attach });
})();
