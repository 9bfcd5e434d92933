// The classify page: show an image, walk the question tree, submit, show the prefetched next image.
(function () {
  "use strict";
  const root = document.getElementById("classify");
  if (!root) return;
  const tree = JSON.parse(document.getElementById("question-tree").textContent);
  const nextUrl = root.dataset.nextUrl;
  const submitUrl = root.dataset.submitUrl;
  const image = document.getElementById("subject-image");
  const caption = document.getElementById("subject-caption");
  const questionText = document.getElementById("question");
  const answersBox = document.getElementById("answers");
  const statusLine = document.getElementById("status");
  const finished = document.getElementById("finished");
  const doneCount = document.getElementById("done-count");

  let current = null;      // {id, image_url}
  let prefetched = null;   // a promise of the next subject (or null when none is left)
  let answers = {};        // {question_key: answer_key} for the current subject
  let path = [];           // question keys answered so far, for going back
  let questionKey = null;
  let busy = false;
  let done = 0;

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function fetchNext(excludeIds) {
    const url = nextUrl + (excludeIds.length ? "?exclude=" + excludeIds.join(",") : "");
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) {
          const body = await response.json();
          if (body.subject) new Image().src = body.subject.image_url; // preload
          return body.subject;
        }
        if (response.status < 500) throw new Error((await response.json()).error);
      } catch (error) {
        if (attempt === 4) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 300 * 2 ** attempt));
    }
    return null;
  }

  function showQuestion(key) {
    questionKey = key;
    const question = tree.questions[key];
    questionText.textContent = question.text;
    answersBox.replaceChildren();
    for (const answer of question.answers) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.answer = answer.key;
      const shortcut = document.createElement("kbd");
      shortcut.textContent = answer.shortcut;
      button.append(shortcut, document.createTextNode(answer.text));
      button.addEventListener("click", () => choose(answer));
      answersBox.append(button);
    }
  }

  function showSubject(subject) {
    current = subject;
    answers = {};
    path = [];
    if (!subject) {
      root.querySelector(".workspace").hidden = true;
      finished.hidden = false;
      finished.textContent = "No more images for you in this project. Thank you for your help!";
      return;
    }
    image.src = subject.image_url;
    caption.textContent = "Subject " + subject.id;
    showQuestion(tree.root);
    prefetched = fetchNext([subject.id]).catch(() => null);
  }

  function choose(answer) {
    if (busy || !current) return;
    answers[questionKey] = answer.key;
    path.push(questionKey);
    if (answer.next) showQuestion(answer.next);
    else submit();
  }

  function back() {
    if (busy || path.length === 0) return;
    const previous = path.pop();
    delete answers[previous];
    showQuestion(previous);
  }

  async function post(payload) {
    // Retries use the SAME idempotency key: the server stores the classification at most once.
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const response = await fetch(submitUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
          body: JSON.stringify(payload),
        });
        if (response.status < 500 && response.status !== 429) return response;
      } catch (error) {
        /* network failure: retry */
      }
      statusLine.textContent = "Saving… (retrying)";
      await new Promise((resolve) => setTimeout(resolve, 400 * 2 ** attempt));
    }
    throw new Error("Your answer could not be saved. Please check your connection.");
  }

  async function submit() {
    busy = true;
    statusLine.textContent = "";
    const payload = { subject: current.id, answers: answers, idempotency_key: newKey() };
    try {
      const response = await post(payload);
      if (response.ok || response.status === 409) {
        done += response.ok ? 1 : 0;
        doneCount.textContent = String(done);
        showSubject(await prefetched);
      } else {
        statusLine.textContent = (await response.json()).error;
        path = [];
        answers = {};
        showQuestion(tree.root);
      }
    } catch (error) {
      statusLine.textContent = error.message;
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || !questionKey || !current) return;
    if (event.key === "Backspace") { event.preventDefault(); back(); return; }
    const answer = tree.questions[questionKey].answers.find((a) => a.shortcut === event.key.toLowerCase());
    if (answer) { event.preventDefault(); choose(answer); }
  });

  fetchNext([]).then(showSubject).catch((error) => { questionText.textContent = error.message; });
})();
