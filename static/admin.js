/*
 * Admin console: sends the console's forms to the admin JSON API (/admin/api/...) with the
 * session's CSRF token, and shows the answer. Reads work without script (plain links and GET
 * forms); changes need it. No framework, no inline script (CSP).
 */
(function () {
  'use strict';
  var configEl = document.getElementById('admin-config');
  if (!configEl) return;
  var csrf = configEl.getAttribute('data-csrf');
  var reauthHref = configEl.getAttribute('data-reauth');
  var strings = JSON.parse(configEl.getAttribute('data-strings') || '{}');
  var statusEl = document.getElementById('admin-status');
  var errorEl = document.getElementById('admin-error');
  var flashKey = 'tobira-admin-flash';

  function clearMessages() {
    statusEl.textContent = '';
    errorEl.textContent = '';
  }

  function showError(message, reauth) {
    errorEl.textContent = '';
    var p = document.createElement('p');
    p.textContent = message;
    errorEl.appendChild(p);
    if (reauth) {
      var link = document.createElement('a');
      link.href = reauthHref;
      link.className = 'button secondary small';
      link.id = 'reauth-link';
      link.textContent = strings.reauthButton;
      errorEl.appendChild(link);
    }
    errorEl.focus();
  }

  /** Replaces {key} in a message with the answer's values. */
  function fill(template, data) {
    return String(template || '').replace(/\{(\w+)\}/g, function (_, key) {
      return data && data[key] !== undefined ? String(data[key]) : '';
    });
  }

  /** The JSON body of a form: each field by its data-kind (see views/admin/client.eta). */
  function bodyOf(form) {
    var body = {};
    var fields = form.querySelectorAll('input[name], select[name], textarea[name]');
    Array.prototype.forEach.call(fields, function (el) {
      var kind = el.getAttribute('data-kind') || 'text';
      var name = el.name;
      if (el.type === 'hidden') return;
      if (kind === 'set' || kind === 'words') {
        if (!(name in body)) body[name] = [];
        if (el.checked) body[name].push(el.value);
        return;
      }
      if (kind === 'bool') { body[name] = el.checked; return; }
      var value = el.value.trim();
      if (kind === 'lines') {
        body[name] = value.split(/\r?\n/).map(function (s) { return s.trim(); }).filter(Boolean);
      } else if (kind === 'number') {
        body[name] = value === '' ? null : (/^-?\d+$/.test(value) ? Number(value) : value);
      } else if (kind === 'optional') {
        body[name] = value === '' ? null : value;
      } else if (kind === 'omit-empty') {
        if (value !== '') body[name] = value;
      } else {
        body[name] = value;
      }
    });
    Array.prototype.forEach.call(form.querySelectorAll('[data-kind=words]'), function (el) {
      if (Array.isArray(body[el.name])) body[el.name] = body[el.name].join(' ');
    });
    return body;
  }

  function showSecret(client, createdText) {
    var panel = document.getElementById('secret-panel');
    if (!panel) return;
    document.getElementById('secret-created').textContent = createdText || '';
    var value = document.getElementById('secret-value');
    value.textContent = client.client_secret || '';
    value.parentElement.hidden = !client.client_secret;
    var open = document.getElementById('secret-open');
    if (open && client.client_id) {
      open.href = '/admin/clients/' + encodeURIComponent(client.client_id);
      open.hidden = false;
    }
    panel.hidden = false;
    document.getElementById('secret-heading').focus();
  }

  function afterSuccess(form, data) {
    var then = form.getAttribute('data-then') || 'reload';
    var done = fill(form.getAttribute('data-done'), data);
    // The secret panel says what happened right under its heading, which takes the focus.
    if (then === 'secret') {
      showSecret(data, done);
    } else if (then === 'created') {
      if (data.client_secret) {
        form.hidden = true;
        showSecret(data, done);
      } else {
        sessionStorage.setItem(flashKey, done);
        location.assign('/admin/clients/' + encodeURIComponent(data.client_id));
      }
    } else if (then === 'stay') {
      statusEl.textContent = done;
    } else if (then.indexOf('redirect:') === 0) {
      if (done) sessionStorage.setItem(flashKey, done);
      location.assign(then.slice('redirect:'.length));
    } else {
      if (done) sessionStorage.setItem(flashKey, done);
      location.reload();
    }
  }

  function submit(event) {
    var form = event.target;
    if (!form.hasAttribute('data-api')) return;
    event.preventDefault();
    var confirmText = form.getAttribute('data-confirm');
    if (confirmText && !window.confirm(confirmText)) return;
    var method = form.getAttribute('data-method') || 'POST';
    var buttons = form.querySelectorAll('button');
    clearMessages();
    statusEl.textContent = strings.working;
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    var init = { method: method, credentials: 'same-origin', headers: { 'accept': 'application/json', 'x-csrf-token': csrf } };
    if (method !== 'DELETE') {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(bodyOf(form));
    }
    fetch(form.getAttribute('data-api'), init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) { return { res: res, data: data }; });
    }).then(function (r) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      statusEl.textContent = '';
      if (r.res.ok) { afterSuccess(form, r.data); return; }
      var reauth = r.data.error === 'admin.reauth_required' || r.data.error === 'admin.unauthenticated';
      showError(r.data.message || strings.failed, reauth);
    }).catch(function () {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      statusEl.textContent = '';
      showError(strings.internal, false);
    });
  }

  document.addEventListener('submit', submit);

  var flash = sessionStorage.getItem(flashKey);
  if (flash) {
    sessionStorage.removeItem(flashKey);
    // Announced after the page settles, so screen readers read it.
    setTimeout(function () { statusEl.textContent = flash; }, 50);
  }
})();
