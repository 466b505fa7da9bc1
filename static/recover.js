// Tobira: "Lost your passkey?" (/recover). Email code, then SMS code when the account has a
// phone, then a new passkey on this device, through the JSON API under /recover/api.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var config = JSON.parse(document.getElementById('page').dataset.config);
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  var panels = ['start', 'sms', 'register', 'done'];
  var busy = false;

  function $(id) { return document.getElementById(id); }
  function s(key, params) {
    var text = config.strings[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split('{{' + k + '}}').join(params[k]); });
    return text;
  }
  function status(text) { statusEl.textContent = text || ''; }
  function showError(text) { errorEl.textContent = text || ''; }
  // Shows one panel and moves focus to its heading, so keyboard and screen reader users start there.
  function show(name, keepStatus) {
    panels.forEach(function (p) { $('panel-' + p).hidden = p !== name; });
    showError('');
    if (!keepStatus) status('');
    var heading = $('panel-' + name).querySelector('h1');
    if (heading) heading.focus();
  }
  function setBusy(on) {
    busy = on;
    document.querySelectorAll('button').forEach(function (b) { b.disabled = on; });
    panels.forEach(function (p) { $('panel-' + p).removeAttribute('aria-busy'); });
    if (on) panels.forEach(function (p) { if (!$('panel-' + p).hidden) $('panel-' + p).setAttribute('aria-busy', 'true'); });
  }
  function isCancel(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError' || err.code === 'ERROR_CEREMONY_ABORTED');
  }
  function invalid(input) {
    input.setAttribute('aria-invalid', 'true');
    showError(input.dataset.error);
    input.focus();
  }

  function api(path, body) {
    return window.TobiraApi.call('/recover/api' + path, body, { unavailable: s('errors.service.unavailable'), failed: s('errors.internal') });
  }

  function run(fn, cancelText) {
    if (busy) return;
    setBusy(true);
    showError('');
    document.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
    fn().then(function () { setBusy(false); }, function (err) {
      setBusy(false);
      status('');
      showError(isCancel(err) ? cancelText : err.message);
      // An expired recovery starts again from the beginning.
      if (err.code === 'recovery.session_expired') toStart();
    });
  }

  function toStart() {
    $('start-form').hidden = false;
    $('email-form').hidden = true;
    show('start', true);
  }

  function next(step) {
    if (step.next === 'sms') {
      $('sms-sent').textContent = s('sms_sent', { to: step.sentTo || config.smsTo || '' });
      $('sms-code').value = '';
      show('sms');
      return;
    }
    if (step.next === 'register') show('register');
  }

  function start(resend) {
    var input = $('identifier');
    var identifier = input.value.trim();
    if (!identifier) { invalid(input); return; }
    run(function () {
      status(s('working'));
      var body = config.interaction ? { identifier: identifier, interaction: config.interaction } : { identifier: identifier };
      return api('/start', body).then(function () {
        $('start-form').hidden = true;
        $('email-form').hidden = false;
        $('email-code').value = '';
        status(resend ? s('resent') : '');
        $('email-code').focus();
      });
    });
  }

  function verify(path, input) {
    if (!/^\d{6}$/.test(input.value.trim())) { invalid(input); return; }
    run(function () {
      status(s('working'));
      return api(path, { code: input.value.trim() }).then(next);
    });
  }

  function register() {
    run(function () {
      status(s('status_waiting'));
      var name = $('passkey-name').value.trim();
      return api('/register/options')
        .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
        .then(function (response) { return api('/register/verify', name ? { response: response, name: name } : { response: response }); })
        .then(function (result) {
          $('done-body').textContent = s('done_body', { name: result.passkey.name });
          if (result.redirectTo) {
            $('continue-signin').href = result.redirectTo;
            $('continue-signin').hidden = false;
          }
          var back = $('back-line');
          if (back) back.hidden = true;
          show('done');
        });
    }, s('status_cancelled'));
  }

  $('start-form').addEventListener('submit', function (event) { event.preventDefault(); start(false); });
  $('email-resend').addEventListener('click', function () { start(true); });
  $('email-form').addEventListener('submit', function (event) { event.preventDefault(); verify('/email/verify', $('email-code')); });
  $('sms-form').addEventListener('submit', function (event) { event.preventDefault(); verify('/sms/verify', $('sms-code')); });
  $('sms-resend').addEventListener('click', function () {
    run(function () {
      return api('/sms/resend').then(function (step) {
        $('sms-sent').textContent = s('sms_sent', { to: step.sentTo || '' });
        status(s('resent'));
        $('sms-code').value = '';
        $('sms-code').focus();
      });
    });
  });
  $('register-form').addEventListener('submit', function (event) { event.preventDefault(); register(); });

  if (!W || !W.browserSupportsWebAuthn()) showError(s('unsupported'));
  if (config.stage === 'sms') next({ next: 'sms', sentTo: config.smsTo });
  else if (config.stage === 'register') show('register');
  else { $('panel-start').hidden = false; }
})();
