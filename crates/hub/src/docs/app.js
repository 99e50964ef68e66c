// Renders /openapi.json: every operation by tag, with its roles, parameters, body and
// answers. No dependency: the page and this script are embedded in the binary.
"use strict";
(function () {
  const main = document.getElementById("main");
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  };
  const ref = (schema) => (schema && schema.$ref ? schema.$ref.split("/").pop() : schema ? JSON.stringify(schema) : "");
  fetch("/openapi.json").then((r) => r.json()).then((doc) => {
    document.getElementById("info").textContent = (doc.info.description || "") + " Version " + doc.info.version;
    main.textContent = "";
    const byTag = {};
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ["get", "post", "put", "patch", "delete"]) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || "other";
        (byTag[tag] = byTag[tag] || []).push({ path, method, op });
      }
    }
    for (const tag of Object.keys(byTag).sort()) {
      const t = (doc.tags || []).find((x) => x.name === tag);
      main.append(el("h2", {}, tag));
      if (t && t.description) main.append(el("p", {}, t.description));
      for (const { path, method, op } of byTag[tag]) {
        const body = el("div", { class: "body" });
        const desc = op.description || "";
        const roles = desc.split("\n").filter((l) => l.startsWith("Roles:")).join(" ");
        const text = desc.split("\n").filter((l) => !l.startsWith("Roles:")).join("\n").trim();
        if (op.summary) body.append(el("p", {}, op.summary));
        if (text && text !== op.summary) body.append(el("p", {}, text));
        if (roles) body.append(el("p", { class: "roles" }, roles));
        if (op.parameters && op.parameters.length) {
          const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "required"), el("th", {}, "description")));
          for (const p of op.parameters) {
            table.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in), el("td", {}, p.required ? "yes" : "no"), el("td", {}, p.description || "")));
          }
          body.append(table);
        }
        if (op.requestBody) {
          const content = op.requestBody.content || {};
          for (const [type, c] of Object.entries(content)) body.append(el("p", {}, "Body (" + type + "): " + ref(c.schema)));
        }
        const answers = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "answer")));
        for (const [status, r] of Object.entries(op.responses || {})) {
          const schema = r.content && r.content["application/json"] ? " → " + ref(r.content["application/json"].schema) : "";
          answers.append(el("tr", {}, el("td", {}, status), el("td", {}, (r.description || "") + schema)));
        }
        body.append(answers);
        main.append(el("details", {}, el("summary", {}, el("span", { class: "m " + method }, method.toUpperCase()), " " + path), body));
      }
    }
    main.append(el("h2", {}, "schemas"));
    for (const [name, schema] of Object.entries((doc.components && doc.components.schemas) || {})) {
      main.append(el("details", {}, el("summary", {}, name), el("pre", {}, JSON.stringify(schema, null, 2))));
    }
  }).catch((e) => { main.textContent = "Cannot load /openapi.json: " + e; });
})();
