// Tobira step-up panel: "Confirm it's you" with a passkey, an authenticator-app code, or a code
// sent by SMS or email, before a change. Reusable: the page includes
// views/account/step-up-panel.eta and calls TobiraStepUp.run() with its own API adapters.
//
//   TobiraStepUp.run({
//     start: function () { return Promise<null | { method, options?, sentTo?, expiresInMinutes? }> },
//                                                // null: nothing (more) to confirm
//     verify: function (method, input) { return Promise<boolean> },   // true: all confirmed
//     show: function () {},                      // show the panel (hide the others)
//     status: function (text) {}, error: function (text) {},        // the page's live regions
//   }) -> Promise resolving when confirmed, rejecting with { cancelled: true } on Cancel.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;

  function fill(template, values) {
    return String(template || '').replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  function isCancel(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError' || err.code === 'ERROR_CEREMONY_ABORTED');
  }

  function run(opts) {
    var root = document.querySelector('[data-step-up]');
    var s = JSON.parse(root.dataset.strings);
    var q = function (sel) { return root.querySelector(sel); };
    var lead = q('[data-step-up-lead]');
    var passkeyBox = q('[data-step-up-passkey]');
    var passkeyButton = q('[data-step-up-passkey-button]');
    var form = q('[data-step-up-code-form]');
    var input = form.querySelector('input');
    var resend = q('[data-step-up-resend]');
    var resendRow = q('[data-step-up-resend-row]');
    var cancel = q('[data-step-up-cancel]');
    var heading = root.querySelector('h1, h2, h3');
    var current = null;
    var busy = false;
    var closed = false;

    return new Promise(function (resolve, reject) {
      function cleanup() {
        closed = true;
        passkeyButton.onclick = null; form.onsubmit = null; resend.onclick = null; cancel.onclick = null;
        input.removeAttribute('aria-invalid');
      }
      function setBusy(on) {
        busy = on;
        root.querySelectorAll('button').forEach(function (b) { b.disabled = on; });
        if (on) root.setAttribute('aria-busy', 'true'); else root.removeAttribute('aria-busy');
      }
      function fail(err) {
        if (closed) return;
        setBusy(false);
        opts.status('');
        opts.error(err && err.message ? err.message : s.internal);
      }
      function finish() {
        var asked = !!current;
        cleanup();
        opts.status(asked ? s.status_done : '');
        resolve();
      }

      // Shows what the started method needs: a passkey button, or a code field.
      function present(started, resent) {
        current = started;
        var m = started.method;
        var values = { to: started.sentTo || '', minutes: started.expiresInMinutes || '' };
        lead.textContent = fill(s[m + '_lead'], values);
        passkeyBox.hidden = m !== 'passkey';
        form.hidden = m === 'passkey';
        resendRow.hidden = m !== 'sms' && m !== 'email';
        input.value = '';
        input.removeAttribute('aria-invalid');
        opts.show();
        root.hidden = false;
        opts.error('');
        opts.status(resent ? s.resent : '');
        if (m === 'passkey') { heading.focus(); usePasskey(); } else { input.focus(); }
      }

      function next() {
        setBusy(true);
        return opts.start().then(function (started) {
          setBusy(false);
          if (!started) { finish(); return; }
          present(started, false);
        }, function (err) { fail(err); if (!current) { cleanup(); reject(err); } });
      }

      function verified(done) {
        if (closed) return;
        setBusy(false);
        if (done) finish(); else next();
      }

      function usePasskey() {
        if (busy || !current || current.method !== 'passkey') return;
        if (!W || !W.browserSupportsWebAuthn()) { opts.error(s.internal); return; }
        setBusy(true);
        opts.error('');
        opts.status(s.status_waiting);
        W.startAuthentication({ optionsJSON: current.options })
          .then(function (response) { return opts.verify('passkey', { response: response }); })
          .then(verified, function (err) {
            if (closed) return;
            if (isCancel(err)) { setBusy(false); opts.status(''); opts.error(s.status_cancelled); return; }
            // A used or expired challenge: fetch new options before the next try.
            if (err && err.code === 'passkey.challenge_expired') { setBusy(false); opts.error(err.message); return restart(); }
            fail(err);
          });
      }
      function restart() {
        return opts.start().then(function (started) { if (started) current = started; else finish(); }, fail);
      }

      passkeyButton.onclick = function () {
        if (current && current.method === 'passkey' && !current.options) { restart().then(usePasskey); return; }
        usePasskey();
      };
      form.onsubmit = function (event) {
        event.preventDefault();
        if (busy || !current) return;
        var code = input.value.replace(/\s+/g, '');
        if (!/^\d{6}$/.test(code)) {
          input.setAttribute('aria-invalid', 'true');
          opts.error(s.code_required);
          input.focus();
          return;
        }
        input.removeAttribute('aria-invalid');
        setBusy(true);
        opts.error('');
        opts.status(s.working);
        opts.verify(current.method, { code: code }).then(function (done) { opts.status(''); verified(done); }, function (err) {
          fail(err);
          input.setAttribute('aria-invalid', 'true');
          input.select();
          input.focus();
        });
      };
      resend.onclick = function () {
        if (busy) return;
        setBusy(true);
        opts.error('');
        opts.start().then(function (started) {
          setBusy(false);
          if (!started) { finish(); return; }
          present(started, true);
        }, fail);
      };
      cancel.onclick = function () {
        if (busy && current && current.method !== 'passkey') return;
        cleanup();
        setBusy(false);
        opts.status('');
        opts.error('');
        reject({ cancelled: true });
      };

      next();
    });
  }

  window.TobiraStepUp = { run: run };
})();
