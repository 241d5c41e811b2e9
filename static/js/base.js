// Every page. No inline handlers or scripts anywhere: the Content-Security-Policy forbids them.

// The language switcher submits itself when a language is picked (a button shows without JS).
const languages = document.getElementById("lang-select");
if (languages) languages.addEventListener("change", () => languages.form.submit());
