// The engram console's only script: a confirmation dialog before a delete. Without it the
// server asks on a page of its own, so every action works without JavaScript too.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("confirm-delete");
  if (!dialog || typeof dialog.showModal !== "function") return;
  let pending = null;
  document.querySelectorAll("form.delete").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.elements.confirm.value === "yes") return;
      event.preventDefault();
      pending = form;
      document.getElementById("confirm-text").textContent = form.dataset.text || "";
      dialog.returnValue = "";
      dialog.showModal();
    });
  });
  dialog.addEventListener("close", () => {
    const form = pending;
    pending = null;
    if (form && dialog.returnValue === "delete") {
      form.elements.confirm.value = "yes";
      form.submit();
    } else if (form) {
      form.querySelector("button").focus();
    }
  });
});
