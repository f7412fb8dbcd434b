// The charge record: a refused correction takes the focus to the message naming the field.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const problem = document.getElementById("problem");
  if (problem) problem.focus();
});
