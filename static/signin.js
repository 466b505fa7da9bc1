// Tobira sign-in page: passkey autofill, the passkey button, identifier-first, email code,
// password (legacy accounts) with a second factor, sign-up and passkey creation, all through the
// JSON API documented in docs/api.md.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var config = JSON.parse(document.getElementById('page').dataset.config);
  var base = '/interaction/' + config.uid;
  // Served as the authorization request's answer, the page shows the interaction's own address,
  // so that a reload or the language links stay in this sign-in instead of starting another.
  if (window.location.pathname !== base && window.history.replaceState) window.history.replaceState(null, '', base);
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  // The password panel is not on the page when the application requires a passkey.
  var panels = ['signin', 'email', 'password', 'signup', 'create'].filter(function (p) { return document.getElementById('panel-' + p); });
  var busy = false;

  function $(id) { return document.getElementById(id); }
  function s(key) { return config.strings[key] || key; }
  // Both regions stay in the page (empty when idle) so that screen readers announce new text.
  function status(text) { statusEl.textContent = text || ''; }
  function showError(text) { errorEl.textContent = text || ''; passkeyHelp(false); }
  // The "prepare your device" link stays beside a passkey error until the next message.
  function passkeyHelp(on) { $('passkey-help').hidden = !on; }
  function currentPanel() {
    for (var i = 0; i < panels.length; i++) if (!$('panel-' + panels[i]).hidden) return $('panel-' + panels[i]);
    return $('panel-signin');
  }
  // Shows one panel and moves focus to its heading, so keyboard and screen reader users start there.
  function show(name) {
    panels.forEach(function (p) { $('panel-' + p).hidden = p !== name; });
    showError('');
    status('');
    clearInvalid();
    var heading = $('panel-' + name).querySelector('h1');
    if (heading) heading.focus();
  }
  function setBusy(on) {
    busy = on;
    document.querySelectorAll('button').forEach(function (b) { b.disabled = on; });
    // On the panel, not on <main>: a busy ancestor would silence the status region.
    panels.forEach(function (p) { $('panel-' + p).removeAttribute('aria-busy'); });
    if (on) currentPanel().setAttribute('aria-busy', 'true');
  }
  function clearInvalid() {
    document.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }
  function invalid(input, message) {
    input.setAttribute('aria-invalid', 'true');
    showError(message);
    input.focus();
  }

  function api(path, body) {
    return window.TobiraApi.call(base + path, body, { unavailable: s('errors.service.unavailable'), failed: s('errors.internal') });
  }

  // The page comes with a discoverable sign-in's options (a challenge of this interaction), for
  // its first ceremony: autofill or the button starts without asking for options. They are good
  // until a verification has used their challenge, or until they are about to time out; after
  // that (and for an identifier) every ceremony asks for its own.
  var pageOptions = config.passkeyOptions;
  var pageOptionsUntil = pageOptions ? Date.now() + (pageOptions.timeout || 60000) - 30000 : 0;
  function passkeyOptions(identifier) {
    if (!identifier && pageOptions && Date.now() < pageOptionsUntil) return Promise.resolve(pageOptions);
    return api('/passkey/options', identifier ? { identifier: identifier } : {});
  }
  function verifyPasskey(options, response) {
    if (options === pageOptions) pageOptions = null;
    return api('/passkey/verify', response);
  }

  function isCancel(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError' || err.code === 'ERROR_CEREMONY_ABORTED');
  }

  function done(result, successText) {
    status(successText);
    window.location.assign(result.redirectTo);
  }

  // A passkey Tobira no longer has (removed in settings or by an admin): the WebAuthn Signal API
  // tells the password manager to forget it, where the browser has it.
  function forgetUnknownPasskey(rpId, credentialId) {
    var PKC = window.PublicKeyCredential;
    if (!rpId || !credentialId || !PKC || typeof PKC.signalUnknownCredential !== 'function') return;
    PKC.signalUnknownCredential({ rpId: rpId, credentialId: credentialId }).catch(function () { /* best effort */ });
  }

  function passkeyErrorText(err, rpId) {
    if (isCancel(err)) return s('signin.status_cancelled');
    if (err.code === 'passkey.unknown_credential') {
      forgetUnknownPasskey(rpId, err.credentialId);
      return s('password.unknown_credential');
    }
    return err.message;
  }

  // One passkey sign-in: identifier-first (identifier given), button (none), or autofill.
  function signInWithPasskey(identifier, autofill) {
    var rpId, used;
    if (!autofill) { setBusy(true); showError(''); clearInvalid(); status(s('signin.status_waiting')); }
    return passkeyOptions(identifier)
      .then(function (options) {
        rpId = options.rpId;
        used = options;
        return W.startAuthentication({ optionsJSON: options, useBrowserAutofill: !!autofill });
      })
      .then(function (response) {
        if (autofill) { setBusy(true); status(s('signin.status_waiting')); }
        return verifyPasskey(used, response);
      })
      .then(function (result) { done(result, s('signin.status_success')); })
      .catch(function (err) {
        // An autofill request that was replaced, dismissed or had no passkey to offer ends quietly.
        if (autofill && isCancel(err)) return;
        setBusy(false);
        status('');
        showError(passkeyErrorText(err, rpId));
        passkeyHelp(true);
        if (!autofill) startAutofill();
      });
  }

  function startAutofill() {
    if (!W || !W.browserSupportsWebAuthnAutofill) return;
    W.browserSupportsWebAuthnAutofill().then(function (ok) {
      if (ok && !$('panel-signin').hidden) signInWithPasskey(undefined, true);
    }, function () { /* no autofill: the button and identifier still work */ });
  }

  function createPasskey() {
    setBusy(true);
    showError('');
    status(s('invite.status_waiting'));
    var name = $('passkey-name').value.trim();
    api('/register/options')
      .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
      .then(function (response) { return api('/register/verify', name ? { response: response, name: name } : { response: response }); })
      .then(function (result) {
        if (result.next === 'passkey_signin') { setBusy(false); return signInWithPasskey(undefined, false); }
        done(result, s('invite.status_success'));
      })
      .catch(function (err) {
        setBusy(false);
        status('');
        showError(isCancel(err) ? s('invite.status_cancelled') : err.message);
        passkeyHelp(true);
      });
  }

  // Submits a form through `fn` after checking its fields; the page's own messages, not the browser's.
  function submitting(form, fn) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      clearInvalid();
      var firstInvalid = form.querySelector('input:invalid');
      if (firstInvalid) { invalid(firstInvalid, firstInvalid.dataset.error || firstInvalid.validationMessage); return; }
      setBusy(true);
      showError('');
      status(s('common.working'));
      fn().then(function () { setBusy(false); }, function (err) {
        setBusy(false);
        status('');
        showError(err.message);
      });
    });
  }

  // After a code was sent: the code form replaces the start form; a resend says so in the status.
  function codeSent(startForm, verifyForm, codeInput, resend) {
    startForm.hidden = true;
    verifyForm.hidden = false;
    codeInput.value = '';
    status(resend ? s('email_code.resent') : '');
    codeInput.focus();
  }

  function resetCodePanels() {
    [['email-start-form', 'email-verify-form'], ['signup-start-form', 'signup-verify-form'], ['password-form', 'factor-form']].forEach(function (pair) {
      if (!$(pair[0])) return;
      $(pair[0]).hidden = false;
      $(pair[1]).hidden = true;
    });
    if ($('password-heading')) $('password-heading').textContent = s('password.title');
  }

  // Password accepted, a second factor follows: the code form replaces the password form.
  function askSecondFactor(result) {
    var lead = $('factor-lead');
    lead.textContent = result.next === 'sms' ? lead.dataset.sms.replace('{phone}', result.sentTo) : lead.dataset.totp;
    $('factor-resend').hidden = result.next !== 'sms';
    $('password-heading').textContent = s(result.next === 'sms' ? 'password.sms_title' : 'password.totp_title');
    $('password-input').value = '';
    codeSent($('password-form'), $('factor-form'), $('factor-code'), false);
  }

  // Too many wrong codes, or the password step expired: back to the password form.
  function restartPassword(message) {
    resetCodePanels();
    $('factor-code').value = '';
    status('');
    showError(message || '');
    $('password-input').focus();
  }

  function toCreate(result) {
    var created = !!result.memberNumber;
    if (created) $('member-number').textContent = result.memberNumber;
    $('member-number-box').hidden = !created;
    $('create-heading').textContent = s(created ? 'created.title' : 'invite.title');
    $('create-lead').textContent = s(result.created === false ? 'created.existing' : result.passwordRetires ? 'password.invite_lead' : 'invite.lead');
    $('create-password-note').hidden = !result.passwordRetires;
    if (config.phrRequired || result.skippable === false) $('skip-passkey').hidden = true;
    show('create');
  }

  // Wire up.
  if (!W || !W.browserSupportsWebAuthn()) {
    showError(s('signin.status_unsupported'));
    $('passkey-button').disabled = true;
  }

  $('identifier-form').addEventListener('submit', function (event) {
    event.preventDefault();
    if (busy) return;
    var input = $('identifier');
    var value = input.value.trim();
    if (!value) { invalid(input, s('signin.identifier_required')); return; }
    signInWithPasskey(value, false);
  });
  $('passkey-button').addEventListener('click', function () { if (!busy) signInWithPasskey(undefined, false); });

  var showEmail = $('show-email-code');
  if (showEmail) showEmail.addEventListener('click', function () {
    $('email-identifier').value = $('identifier').value.trim();
    show('email');
  });
  var showPassword = $('show-password');
  if (showPassword) showPassword.addEventListener('click', function () {
    $('password-identifier').value = $('identifier').value.trim();
    resetCodePanels();
    show('password');
  });
  $('show-signup').addEventListener('click', function () { show('signup'); });
  document.querySelectorAll('[data-back]').forEach(function (b) {
    b.addEventListener('click', function () { resetCodePanels(); show('signin'); startAutofill(); });
  });
  var resending = false;
  document.querySelectorAll('[data-resend]').forEach(function (b) {
    b.addEventListener('click', function () {
      resending = true; // read synchronously by the form's submit handler
      $(b.dataset.resend).requestSubmit();
      resending = false;
    });
  });

  submitting($('email-start-form'), function () {
    var resend = resending;
    return api('/email/start', { identifier: $('email-identifier').value.trim() })
      .then(function () { codeSent($('email-start-form'), $('email-verify-form'), $('email-code'), resend); });
  });
  submitting($('email-verify-form'), function () {
    return api('/email/verify', { code: $('email-code').value.trim() }).then(toCreate);
  });
  submitting($('signup-start-form'), function () {
    var resend = resending;
    var email = $('signup-email').value.trim();
    var name = $('signup-name').value.trim();
    return api('/signup/start', name ? { email: email, name: name } : { email: email }).then(function () {
      var sent = $('signup-sent');
      sent.textContent = sent.dataset.template.replace('{email}', email);
      codeSent($('signup-start-form'), $('signup-verify-form'), $('signup-code'), resend);
    });
  });
  submitting($('signup-verify-form'), function () {
    return api('/signup/verify', { code: $('signup-code').value.trim() }).then(toCreate);
  });
  if ($('password-form')) {
    submitting($('password-form'), function () {
      var body = { identifier: $('password-identifier').value.trim(), password: $('password-input').value };
      return api('/password/verify', body).then(function (result) {
        if (result.next === 'create_passkey') toCreate(result);
        else askSecondFactor(result);
      });
    });
    submitting($('factor-form'), function () {
      return api('/password/second-factor', { code: $('factor-code').value.trim() }).then(toCreate, function (err) {
        if (err.code === 'interaction.wrong_step' || (err.code === 'code.too_many_attempts' && $('factor-resend').hidden)) {
          restartPassword(err.message);
          return;
        }
        throw err;
      });
    });
    $('factor-resend').addEventListener('click', function () {
      if (busy) return;
      setBusy(true);
      showError('');
      api('/password/sms/resend').then(function () {
        setBusy(false);
        $('factor-code').value = '';
        status(s('password.resent'));
        $('factor-code').focus();
      }, function (err) {
        setBusy(false);
        if (err.code === 'interaction.wrong_step') { restartPassword(err.message); return; }
        showError(err.message);
      });
    });
    $('factor-restart').addEventListener('click', function () { if (!busy) restartPassword(''); });
  }
  $('create-form').addEventListener('submit', function (event) {
    event.preventDefault();
    if (!busy) createPasskey();
  });
  $('skip-passkey').addEventListener('click', function () {
    if (busy) return;
    setBusy(true);
    api('/continue').then(function (result) { done(result, ''); }, function (err) { setBusy(false); showError(err.message); });
  });

  startAutofill();
})();
