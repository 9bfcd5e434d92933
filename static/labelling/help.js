// The classify page's help: the tutorial (opened on a first visit, reopened by its button) and the
// field guide (its button or the "?" key). Native <dialog>s: modal, Escape closes them; focus goes
// back to whatever had it before.
(function () {
  "use strict";
  const root = document.getElementById("classify");
  if (!root) return;
  const openers = new Map(); // dialog -> the element focused before it opened

  function open(id) {
    const dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    openers.set(dialog, document.activeElement);
    dialog.showModal();
    const close = dialog.querySelector(".close-dialog");
    if (close) close.focus();
  }

  for (const dialog of document.querySelectorAll("dialog.help-dialog")) {
    dialog.addEventListener("close", () => {
      const previous = openers.get(dialog);
      openers.delete(dialog);
      if (previous && previous.focus && document.body.contains(previous)) previous.focus();
    });
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
  }
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => document.getElementById(button.dataset.close).close());
  }
  const tutorialButton = document.getElementById("open-tutorial");
  if (tutorialButton) tutorialButton.addEventListener("click", () => open("tutorial"));
  document.getElementById("open-field-guide").addEventListener("click", () => open("field-guide"));

  document.addEventListener("keydown", (event) => {
    if (event.key !== "?" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    open("field-guide");
  });

  if (root.dataset.showTutorial === "true") open("tutorial");
})();
