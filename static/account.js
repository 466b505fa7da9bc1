// Tobira account settings: the Passkeys page (list, register on this device or another one,
// rename, remove) and the Security page (authenticator app, phone number), through the
// account JSON API (docs/api.md, "Account API"). Every change runs the step-up panel first
// (static/step-up.js) when this session has not confirmed it's the member recently.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var pageEl = document.getElementById('page');
  var kind = pageEl.dataset.page;
  var config = JSON.parse(pageEl.dataset.config);
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  var panels = Array.prototype.slice.call(document.querySelectorAll('main section[id^="panel-"]'));
  var busy = false;
  var pageLang = document.documentElement.lang === 'ja' ? 'ja-JP' : 'en-GB';

  function $(id) { return document.getElementById(id); }
  function s(key) { return config.strings[key] || key; }
  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined && values[k] !== null ? values[k] : m; });
  }
  // Both regions stay in the page (empty when idle) so that screen readers announce new text.
  function status(text) { statusEl.textContent = text || ''; }
  function showError(text) { errorEl.textContent = text || ''; }
  function clearInvalid() {
    document.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }
  function invalid(input, message) {
    input.setAttribute('aria-invalid', 'true');
    showError(message);
    input.focus();
  }
  // Shows one panel and moves focus to its heading; messages stay when `keep` (a result to announce).
  function show(name, keep) {
    panels.forEach(function (p) { p.hidden = p.id !== 'panel-' + name; });
    if (!keep) { showError(''); status(''); }
    clearInvalid();
    var heading = $('panel-' + name).querySelector('h1');
    if (heading) heading.focus();
  }
  function setBusy(on) {
    busy = on;
    document.querySelectorAll('main button').forEach(function (b) { b.disabled = on; });
    panels.forEach(function (p) { p.removeAttribute('aria-busy'); });
    var visible = panels.filter(function (p) { return !p.hidden; })[0];
    if (on && visible) visible.setAttribute('aria-busy', 'true');
  }
  function isCancel(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError' || err.code === 'ERROR_CEREMONY_ABORTED');
  }

  function api(path, body, method) {
    var url = path.charAt(0) === '/' && path.indexOf('/account/') === 0 ? path : '/account/api' + path;
    return window.TobiraApi.call(url, body, {
      method: method, unavailable: s('errors.service.unavailable'), failed: s('errors.internal'),
      onUnauthorized: function () { window.location.assign(window.location.pathname); },
    });
  }

  // Step-up for `purpose`: nothing to show when this session confirmed it recently; otherwise
  // the step-up panel until done. Cancel returns to the `back` panel.
  function stepUp(purpose, back) {
    return window.TobiraStepUp.run({
      start: function () {
        return api('/step-up/start', { purpose: purpose }).then(function (r) { return r.satisfied ? null : r; });
      },
      verify: function (method, input) {
        var body = { purpose: purpose, method: method };
        if (input.response) body.response = input.response; else body.code = input.code;
        return api('/step-up/verify', body).then(function (r) { return r.satisfied; });
      },
      show: function () { show('step-up'); },
      status: status,
      error: showError,
    }).catch(function (err) {
      show(back, !!(err && !err.cancelled));
      if (err && !err.cancelled) showError(err.message);
      throw err;
    });
  }

  // Runs `action`; when the server says the step-up is needed (e.g. it expired meanwhile),
  // confirms and runs it once more.
  function withStepUp(purpose, back, action) {
    return stepUp(purpose, back).then(action).catch(function (err) {
      if (err && err.code === 'step_up.required') return stepUp(purpose, back).then(action);
      throw err;
    });
  }

  // A failed action: the message in the alert region, the page usable again.
  function failed(err) {
    setBusy(false);
    if (err && err.cancelled) return;
    status('');
    showError(err && err.message ? err.message : s('errors.internal'));
  }

  // Re-formats server-rendered dates in the member's own time zone.
  function formatDate(iso) {
    try {
      return new Intl.DateTimeFormat(pageLang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
    } catch (e) { return iso; }
  }
  function localizeDates(root) {
    root.querySelectorAll('time[datetime]').forEach(function (el) { el.textContent = formatDate(el.getAttribute('datetime')); });
  }

  function bindBack() {
    document.querySelectorAll('[data-back]').forEach(function (b) {
      b.addEventListener('click', function () { if (!busy) show(kind === 'passkeys' ? 'list' : 'overview'); });
    });
  }

  // ---------------------------------------------------------------- Passkeys page
  function passkeysPage() {
    var passkeys = config.passkeys;
    var signal = config.signal;
    var selected = null;
    var poll = null;

    function el(tag, cls, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text !== undefined) node.textContent = text;
      return node;
    }
    function dateSpan(template, iso) {
      var parts = s(template).split('{date}');
      var span = el('span');
      span.appendChild(document.createTextNode(parts[0] || ''));
      var time = el('time', '', formatDate(iso));
      time.setAttribute('datetime', iso);
      span.appendChild(time);
      span.appendChild(document.createTextNode(parts[1] || ''));
      return span;
    }
    // The same markup as views/account/passkey-item.eta.
    function renderItem(k) {
      var provider = k.provider || s('account.passkeys.generic');
      var li = el('li', 'passkey');
      li.dataset.id = k.id;
      var icon = el('img', 'provider-icon');
      icon.src = '/static/icons/' + k.icon + '.svg';
      icon.alt = '';
      icon.width = 40;
      icon.height = 40;
      li.appendChild(icon);
      var main = el('div', 'passkey-main');
      main.appendChild(el('h2', 'passkey-name', k.name));
      var prov = el('p', 'passkey-provider');
      prov.appendChild(el('span', '', provider));
      var badge = el('span', k.synced ? 'badge synced' : 'badge', s(k.synced ? 'account.passkeys.synced' : 'account.passkeys.device_bound'));
      if (k.synced) badge.title = fill(s('account.passkeys.synced_hint'), { provider: provider });
      prov.appendChild(document.createTextNode(' '));
      prov.appendChild(badge);
      main.appendChild(prov);
      var dates = el('p', 'passkey-dates');
      dates.appendChild(dateSpan('account.passkeys.created', k.createdAt));
      dates.appendChild(document.createTextNode(' '));
      dates.appendChild(k.lastUsedAt ? dateSpan('account.passkeys.last_used', k.lastUsedAt) : el('span', '', s('account.passkeys.never_used')));
      main.appendChild(dates);
      li.appendChild(main);
      var actions = el('div', 'passkey-actions');
      [['rename', ''], ['remove', ' danger']].forEach(function (a) {
        var b = el('button', 'secondary compact' + a[1], s('account.passkeys.' + a[0]));
        b.type = 'button';
        b.dataset.action = a[0];
        b.setAttribute('aria-label', fill(s('account.passkeys.' + a[0] + '_named'), { name: k.name }));
        actions.appendChild(b);
      });
      li.appendChild(actions);
      return li;
    }
    function renderList(list) {
      passkeys = list;
      var ul = $('passkey-list');
      ul.textContent = '';
      list.forEach(function (k) { ul.appendChild(renderItem(k)); });
      $('passkeys-empty').hidden = list.length > 0;
    }
    function byId(id) { return passkeys.filter(function (k) { return k.id === id; })[0]; }

    // WebAuthn Signal API: tells the browser's password manager which passkeys Tobira still
    // accepts, so removed ones stop being offered. Not every browser has it (feature-detected).
    function signalList(result) {
      var P = window.PublicKeyCredential;
      if (!P) return;
      var info = result && result.signal ? result.signal : signal;
      try {
        if (typeof P.signalAllAcceptedCredentials === 'function') {
          P.signalAllAcceptedCredentials({ rpId: info.rpId, userId: info.userId, allAcceptedCredentialIds: info.allAcceptedCredentialIds }).catch(function () {});
        }
        if (typeof P.signalCurrentUserDetails === 'function') {
          P.signalCurrentUserDetails({ rpId: signal.rpId, userId: signal.userId, name: signal.name, displayName: signal.displayName }).catch(function () {});
        }
      } catch (e) { /* a browser that refuses the signal changes nothing on Tobira's side */ }
    }
    function signalRemoved(credentialId) {
      var P = window.PublicKeyCredential;
      if (!P || typeof P.signalUnknownCredential !== 'function') return;
      try { P.signalUnknownCredential({ rpId: signal.rpId, credentialId: credentialId }).catch(function () {}); } catch (e) { /* see signalList */ }
    }

    function passwordRetired() {
      config.passwordEnabled = false;
      ['password-notice', 'password-warning'].forEach(function (id) { var n = $(id); if (n) n.remove(); });
    }

    function createPasskey() {
      var name = $('passkey-name').value.trim();
      setBusy(true);
      showError('');
      status(s('account.add.status_waiting'));
      return api('/passkeys/register/options')
        .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
        .then(function (response) { return api('/passkeys/register/verify', name ? { response: response, name: name } : { response: response }); })
        .then(function (result) {
          setBusy(false);
          renderList(result.passkeys);
          if (result.passwordRetired) passwordRetired();
          $('passkey-name').value = '';
          show('list');
          status(fill(s(result.passwordRetired ? 'account.add.status_success_password' : 'account.add.status_success'), { name: result.passkey.name }));
          signalList(result);
        });
    }

    function startRename(id) {
      selected = byId(id);
      if (!selected) return;
      $('rename-name').value = selected.name;
      show('rename');
    }
    function rename() {
      var input = $('rename-name');
      var name = input.value.trim();
      if (!name) { invalid(input, s('account.rename.name_required')); return Promise.resolve(); }
      var id = selected.id;
      return withStepUp('manage', 'rename', function () {
        setBusy(true);
        status(s('common.working'));
        return api('/passkeys/' + encodeURIComponent(id) + '/rename', { name: name }).then(function (result) {
          setBusy(false);
          renderList(result.passkeys);
          show('list');
          status(fill(s('account.rename.status_success'), { name: result.passkey.name }));
          signalList(result);
        });
      });
    }

    function startRemove(id) {
      selected = byId(id);
      if (!selected) return;
      var last = passkeys.length === 1;
      $('remove-text').textContent = fill(s('account.remove.confirm'), { name: selected.name });
      var note = $('remove-last');
      note.hidden = !last;
      note.textContent = last ? fill(s(config.emailVerified ? 'account.remove.last' : 'account.remove.last_blocked'), { email: config.email }) : '';
      $('confirm-remove').hidden = last && !config.emailVerified;
      show('remove');
    }
    function remove() {
      var id = selected.id;
      return withStepUp('manage', 'remove', function () {
        setBusy(true);
        status(s('common.working'));
        return api('/passkeys/' + encodeURIComponent(id) + '/remove', {}).then(function (result) {
          setBusy(false);
          renderList(result.passkeys);
          show('list');
          status(fill(s('account.remove.status_success'), { name: result.removed.name }));
          signalRemoved(result.removed.credentialId);
          signalList(result);
        });
      });
    }

    // "Register on another device": the endpoints of docs/api.md, "Add a device".
    function stopPolling() { if (poll) { clearTimeout(poll); poll = null; } }
    function byEmail(button) {
      setBusy(true);
      status(s('common.working'));
      return api(button.dataset.endpoint, {}).then(function (result) {
        setBusy(false);
        status('');
        var sent = $('email-sent');
        sent.textContent = fill(s('account.add.email_sent'), { to: result.email || config.email });
        sent.hidden = false;
        $('qr-box').hidden = true;
        stopPolling();
      });
    }
    function byQr(button) {
      setBusy(true);
      status(s('common.working'));
      return api(button.dataset.endpoint, {}).then(function (result) {
        setBusy(false);
        $('email-sent').hidden = true;
        $('qr-image').src = result.qrSvg ? 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(result.qrSvg) : result.qr;
        $('qr-box').hidden = false;
        status(s('account.add.qr_waiting'));
        follow(button.dataset.endpoint.replace(/\/qr$/, '') + '/' + encodeURIComponent(result.id) + '/status');
      });
    }
    // Follows the QR link until the other device has registered (or the link expired).
    function follow(url) {
      stopPolling();
      var lastState = 'pending';
      function tick() {
        api(url, null, 'GET').then(function (st) {
          if (st.state === 'completed') {
            poll = null;
            $('qr-box').hidden = true;
            return api('/passkeys', null, 'GET').then(function (result) {
              renderList(result.passkeys);
              show('list', true);
              status(s('account.add.qr_done'));
              signalList(result);
            });
          }
          if (st.state === 'expired') { poll = null; $('qr-box').hidden = true; status(''); showError(s('account.add.qr_expired')); return; }
          if (st.state !== lastState && st.state === 'opened') status(s('account.add.qr_opened'));
          lastState = st.state;
          poll = setTimeout(tick, 2000);
        }, function () { poll = setTimeout(tick, 4000); });
      }
      poll = setTimeout(tick, 1500);
    }

    $('add-passkey').addEventListener('click', function () { if (!busy) show('add'); });
    $('choose-here').addEventListener('click', function () {
      if (busy) return;
      stepUp('register', 'add').then(function () { show('here', true); }, function () {});
    });
    $('choose-other').addEventListener('click', function () {
      if (busy) return;
      stepUp('register', 'add').then(function () {
        $('email-sent').hidden = true;
        $('qr-box').hidden = true;
        show('other', true);
      }, function () {});
    });
    $('here-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      createPasskey().catch(function (err) {
        if (err && err.code === 'step_up.required') {
          setBusy(false);
          stepUp('register', 'here').then(function () { show('here', true); }, function () {});
          return;
        }
        setBusy(false);
        status('');
        showError(isCancel(err) ? s('account.add.status_cancelled') : err.message);
      });
    });
    $('add-by-email').addEventListener('click', function () { if (!busy) byEmail(this).catch(failed); });
    $('add-by-qr').addEventListener('click', function () { if (!busy) byQr(this).catch(failed); });
    $('rename-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (!busy) rename().catch(failed);
    });
    $('confirm-remove').addEventListener('click', function () { if (!busy) remove().catch(failed); });
    $('passkey-list').addEventListener('click', function (event) {
      var button = event.target.closest('button[data-action]');
      if (!button || busy) return;
      var id = button.closest('li').dataset.id;
      if (button.dataset.action === 'rename') startRename(id); else startRemove(id);
    });
    document.querySelectorAll('[data-back]').forEach(function (b) { b.addEventListener('click', stopPolling); });

    localizeDates($('passkey-list'));
    if (!W || !W.browserSupportsWebAuthn()) $('choose-here').disabled = true;
  }

  // ---------------------------------------------------------------- Security page
  function securityPage() {
    var confirmAction = null;

    function setTotp(on) {
      config.totpEnabled = on;
      $('totp-state').textContent = s(on ? 'account.security.totp_on' : 'account.security.totp_off');
      $('totp-setup').hidden = on;
      $('totp-remove').hidden = !on;
    }
    function setPhone(phone) {
      config.phone = phone;
      $('phone-state').textContent = phone ? fill(s('account.security.phone_verified'), { phone: phone }) : s('account.security.phone_none');
      $('phone-add').textContent = s(phone ? 'account.security.phone_change' : 'account.security.phone_add');
      $('phone-remove').hidden = !phone;
    }
    function done(text) {
      setBusy(false);
      show('overview', true);
      status(text);
    }
    function askConfirm(title, text, action) {
      $('confirm-heading').textContent = title;
      $('confirm-text').textContent = text;
      $('confirm-button').textContent = title;
      confirmAction = action;
      show('confirm');
    }
    function codeOf(input) {
      var code = input.value.replace(/\s+/g, '');
      if (!/^\d{6}$/.test(code)) { invalid(input, s('account.step_up.code_required')); return null; }
      return code;
    }

    $('totp-setup').addEventListener('click', function () {
      if (busy) return;
      withStepUp('manage', 'overview', function () {
        setBusy(true);
        return api('/totp/start').then(function (result) {
          setBusy(false);
          $('totp-qr').src = result.qr;
          $('totp-secret').textContent = result.secret.replace(/(.{4})/g, '$1 ').trim();
          $('totp-code').value = '';
          show('totp');
        });
      }).catch(failed);
    });
    $('totp-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      var code = codeOf($('totp-code'));
      if (!code) return;
      setBusy(true);
      api('/totp/confirm', { code: code }).then(function () { setTotp(true); done(s('account.security.totp_enabled')); }, function (err) {
        failed(err);
        $('totp-code').setAttribute('aria-invalid', 'true');
        $('totp-code').focus();
      });
    });
    $('totp-remove').addEventListener('click', function () {
      if (busy) return;
      askConfirm(s('account.security.totp_remove'), s('account.security.totp_remove_confirm'), function () {
        return withStepUp('manage', 'confirm', function () {
          setBusy(true);
          return api('/totp/remove').then(function () { setTotp(false); done(s('account.security.totp_removed')); });
        });
      });
    });

    $('phone-add').addEventListener('click', function () {
      if (busy) return;
      withStepUp('manage', 'overview', function () {
        $('phone-form').hidden = false;
        $('phone-code-form').hidden = true;
        $('phone-number').value = '';
        show('phone', true);
      }).catch(failed);
    });
    $('phone-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      clearInvalid();
      var input = $('phone-number');
      var phone = input.value.replace(/[\s\-().]/g, '');
      if (!/^\+[1-9]\d{7,14}$/.test(phone)) { invalid(input, s('account.security.phone_invalid')); return; }
      setBusy(true);
      showError('');
      status(s('common.working'));
      api('/phone/start', { phone: phone }).then(function (result) {
        setBusy(false);
        status('');
        $('phone-sent').textContent = fill(s('account.security.phone_sent'), { to: result.sentTo, minutes: result.expiresInMinutes });
        $('phone-form').hidden = true;
        $('phone-code-form').hidden = false;
        $('phone-code').value = '';
        $('phone-code').focus();
      }, failed);
    });
    $('phone-code-form').addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      var code = codeOf($('phone-code'));
      if (!code) return;
      setBusy(true);
      api('/phone/verify', { code: code }).then(function (result) { setPhone(result.phone); done(s('account.security.phone_done')); }, function (err) {
        failed(err);
        $('phone-code').setAttribute('aria-invalid', 'true');
        $('phone-code').focus();
      });
    });
    $('phone-remove').addEventListener('click', function () {
      if (busy) return;
      askConfirm(s('account.security.phone_remove'), fill(s('account.security.phone_remove_confirm'), { phone: config.phone }), function () {
        return withStepUp('manage', 'confirm', function () {
          setBusy(true);
          return api('/phone/remove').then(function () { setPhone(null); done(s('account.security.phone_removed')); });
        });
      });
    });
    $('confirm-button').addEventListener('click', function () {
      if (!busy && confirmAction) confirmAction().catch(failed);
    });
  }

  bindBack();
  if (kind === 'passkeys') passkeysPage(); else securityPage();
})();
