// The classify page: show an image, walk the question tree, submit, show the prefetched next image.
// The tree and the URLs come from GET /api/projects/<slug>; subjects arrive PREFETCH at a time from
// GET …/next?count=N, refilled in the background while the volunteer answers.
// In staff's preview (data-preview) the tree and a few subjects are in the page and nothing is
// fetched or sent: answers walk the tree, then the next subject shows.
(function () {
  "use strict";
  const root = document.getElementById("classify");
  if (!root) return;
  const PREFETCH = 3;
  let tree = JSON.parse(document.getElementById("question-tree").textContent);
  let nextUrl = root.dataset.nextUrl;
  let submitUrl = root.dataset.submitUrl;
  const image = document.getElementById("subject-image");
  const caption = document.getElementById("subject-caption");
  const questionText = document.getElementById("question");
  const answersBox = document.getElementById("answers");
  const statusLine = document.getElementById("status");
  const finished = document.getElementById("finished");
  const doneCount = document.getElementById("done-count");
  const requestedCount = document.getElementById("requested-count");
  const imageAlt = root.dataset.imageAlt;
  const preview = root.dataset.preview === "true";

  let current = null;      // {id, image_url}
  let queued = [];         // prefetched subjects, best first
  let refill = null;       // the request refilling `queued`, while one is under way
  let exhausted = false;   // the server had nothing more
  let answers = {};        // {question_key: answer_key} for the current subject
  let path = [];           // question keys answered so far, for going back
  let questionKey = null;
  let busy = false;
  let done = 0;
  let requested = 0;       // of those, subjects the model had asked for

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function getJson(url) {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) return await response.json();
        if (response.status < 500) throw new Error((await response.json()).error);
      } catch (error) {
        if (attempt === 4) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 300 * 2 ** attempt));
    }
    return null;
  }

  // Ask for enough subjects to hold PREFETCH, leaving out the one on screen and those queued.
  function fillQueue() {
    if (refill || exhausted) return refill;
    const held = (current ? [current.id] : []).concat(queued.map((subject) => subject.id));
    const wanted = PREFETCH - queued.length;
    if (wanted <= 0) return null;
    const url = nextUrl + "?count=" + wanted + (held.length ? "&exclude=" + held.join(",") : "");
    refill = getJson(url)
      .then((body) => {
        const subjects = (body && body.subjects) || [];
        if (subjects.length < wanted) exhausted = true;
        for (const subject of subjects) {
          if (subject.id === (current && current.id) || queued.some((q) => q.id === subject.id)) continue;
          new Image().src = subject.image_url; // preload
          queued.push(subject);
        }
      })
      .finally(() => { refill = null; });
    return refill;
  }

  async function takeNext() {
    if (queued.length === 0 && !exhausted) await fillQueue();
    if (queued.length === 0 && refill) await refill;
    return queued.shift() || null;
  }

  function showQuestion(key) {
    questionKey = key;
    const question = tree.questions[key];
    questionText.textContent = question.text;
    const hadFocus = answersBox.contains(document.activeElement); // keyboard users keep their place
    answersBox.replaceChildren();
    for (const answer of question.answers) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.answer = answer.key;
      button.setAttribute("aria-keyshortcuts", answer.shortcut);
      const shortcut = document.createElement("kbd");
      shortcut.setAttribute("aria-hidden", "true"); // the accessible name is the answer's text
      shortcut.textContent = answer.shortcut;
      button.append(shortcut, document.createTextNode(answer.text));
      button.addEventListener("click", () => choose(answer));
      answersBox.append(button);
    }
    if (hadFocus) answersBox.querySelector("button").focus();
  }

  function showSubject(subject) {
    current = subject;
    answers = {};
    path = [];
    if (!subject) {
      root.querySelector(".workspace").hidden = true;
      finished.hidden = false;
      finished.textContent = preview
        ? "End of the preview: volunteers carry on with the rest of the queue."
        : "No more images for you in this project. Thank you for your help!";
      return;
    }
    image.src = subject.image_url;
    image.alt = imageAlt + " (subject " + subject.id + ")";
    caption.textContent = "Subject " + subject.id;
    showQuestion(tree.root);
    const pending = fillQueue();
    if (pending) pending.catch(() => null);
  }

  function choose(answer) {
    if (busy || !current) return;
    if (answer.next && (answer.next === questionKey || path.includes(answer.next))) {
      // A tree that loops could never be finished: say so rather than cycle (the server refuses
      // such trees; this guards a page loaded before the tree changed).
      statusLine.textContent = "The questions of this project loop back to '" + answer.next +
        "', so this image cannot be finished. Please tell the project's team.";
      return;
    }
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

  function previewSubmit() {
    done += 1;
    doneCount.textContent = String(done);
    statusLine.textContent = "Preview: answers not saved (" + JSON.stringify(answers) + ").";
    showSubject(queued.shift() || null);
  }

  async function submit() {
    if (preview) { previewSubmit(); return; }
    busy = true;
    statusLine.textContent = "";
    const payload = { subject: current.id, answers: answers, idempotency_key: newKey() };
    try {
      const response = await post(payload);
      if (response.ok || response.status === 409) {
        if (response.ok) {
          const stored = await response.json();
          done += 1;
          requested += stored.requested_by_model ? 1 : 0;
        }
        doneCount.textContent = String(done);
        requestedCount.textContent = String(requested);
        showSubject(await takeNext().catch(() => null));
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
    if (document.querySelector("dialog[open]")) return; // the tutorial or field guide has the keys
    if (event.key === "Backspace") { event.preventDefault(); back(); return; }
    const answer = tree.questions[questionKey].answers.find((a) => a.shortcut === event.key.toLowerCase());
    if (answer) { event.preventDefault(); choose(answer); }
  });

  if (preview) {
    queued = JSON.parse(document.getElementById("preview-subjects").textContent);
    exhausted = true;
    showSubject(queued.shift() || null);
    return;
  }

  getJson(root.dataset.projectUrl)
    .then((project) => {
      tree = project.tree;
      nextUrl = project.next_url;
      submitUrl = project.classifications_url;
      return takeNext();
    })
    .then(showSubject)
    .catch((error) => { questionText.textContent = error.message; });
})();
