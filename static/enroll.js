// Tobira: register a passkey on this device after opening an add-device link (/enroll).
// Step-up first (the same rules as in account settings, with the same panel: static/step-up.js),
// then WebAuthn registration, through the JSON API under /enroll/api documented in docs/api.md.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var view = JSON.parse(document.getElementById('page').dataset.config);
  var strings = view.strings;
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  var panels = ['intro', 'step-up', 'register', 'done'];
  var busy = false;

  function $(id) { return document.getElementById(id); }
  function s(key, params) {
    var text = strings[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split('{{' + k + '}}').join(params[k]); });
    return text;
  }
  function status(text) { statusEl.textContent = text || ''; }
  function showError(text) { errorEl.textContent = text || ''; }
  // Shows one panel and moves focus to its heading, so keyboard and screen reader users start there.
  function show(name, quiet) {
    panels.forEach(function (p) { $('panel-' + p).hidden = p !== name; });
    if (quiet) return;
    var heading = $('panel-' + name).querySelector('h1');
    if (heading) heading.focus();
  }
  function setBusy(on) {
    busy = on;
    document.querySelectorAll('main button').forEach(function (b) { b.disabled = on; });
  }
  function isCancel(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError' || err.code === 'ERROR_CEREMONY_ABORTED');
  }

  function api(path, body) {
    return window.TobiraApi.call('/enroll/api' + path, body, { unavailable: s('errors.service.unavailable'), failed: s('errors.internal') });
  }

  // The next step: what the next step-up method will ask (a "Continue" starts it), or the passkey.
  function proceed(focus) {
    if (view.next === 'register') { show('register', !focus); return; }
    var index = view.required.indexOf(view.next);
    $('intro-progress').textContent = view.required.length > 1 ? s('step_up.step', { n: index + 1, total: view.required.length }) : '';
    $('intro-text').textContent = s('step_up.' + view.next);
    show('intro', !focus);
  }

  // "Continue": the step-up panel runs each remaining method in turn (passkey, or a code).
  function stepUp() {
    showError('');
    window.TobiraStepUp.run({
      start: function () {
        if (view.next === 'register') return Promise.resolve(null);
        return api('/step-up/start', { method: view.next });
      },
      verify: function (method, input) {
        var body = { method: method };
        if (input.response) body.response = input.response;
        if (input.code) body.code = input.code;
        return api('/step-up/verify', body).then(function (next) {
          view.required = next.required;
          view.next = next.next;
          return next.next === 'register';
        });
      },
      show: function () { show('step-up', true); },
      status: status,
      error: showError,
    }).then(function () { proceed(true); }, function (err) {
      if (err && err.cancelled) { proceed(true); return; }
      if (err && err.code === 'enroll.session_expired') window.location.reload();
    });
  }

  function register() {
    if (busy) return;
    setBusy(true);
    showError('');
    status(s('register.status_waiting'));
    var name = $('passkey-name').value.trim();
    api('/register/options')
      .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
      .then(function (response) { return api('/register/verify', name ? { response: response, name: name } : { response: response }); })
      .then(function (result) {
        setBusy(false);
        status('');
        $('done-body').textContent = s('done.body', { name: result.passkey.name });
        show('done');
      }, function (err) {
        setBusy(false);
        status('');
        showError(isCancel(err) ? s('register.status_cancelled') : err.message);
      });
  }

  $('intro-continue').addEventListener('click', function () { if (!busy) stepUp(); });
  $('register-form').addEventListener('submit', function (event) { event.preventDefault(); register(); });

  proceed(false);
  if (!W || !W.browserSupportsWebAuthn()) {
    document.querySelectorAll('main button').forEach(function (b) { b.disabled = true; });
    showError(s('errors.unsupported'));
  }
})();
