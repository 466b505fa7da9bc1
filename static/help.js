// Tobira: "Prepare your device" (/help/passkeys). Checks what this browser can do with passkeys
// and shows each answer as text (a table row) plus a summary announced in a live region.
(function () {
  'use strict';
  var section = document.getElementById('check');
  var strings = JSON.parse(section.dataset.config).strings;
  var PKC = window.PublicKeyCredential;

  function cell(name, value) {
    var el = document.getElementById('check-' + name);
    el.textContent = value === true ? strings.yes : value === false ? strings.no : strings.unknown;
    el.dataset.result = value === true ? 'yes' : value === false ? 'no' : 'unknown';
  }

  // Every check answers true, false or null (the browser does not say); none ever throws.
  function ask(fn) {
    try {
      return Promise.resolve(fn()).then(function (v) { return v === undefined ? null : !!v; }, function () { return null; });
    } catch (e) {
      return Promise.resolve(null);
    }
  }

  var webauthn = !!(PKC && navigator.credentials && navigator.credentials.create);
  var capabilities = webauthn && typeof PKC.getClientCapabilities === 'function'
    ? PKC.getClientCapabilities().then(function (c) { return c || {}; }, function () { return {}; })
    : Promise.resolve({});

  Promise.all([
    webauthn ? ask(function () { return PKC.isUserVerifyingPlatformAuthenticatorAvailable(); }) : Promise.resolve(false),
    webauthn && typeof PKC.isConditionalMediationAvailable === 'function'
      ? ask(function () { return PKC.isConditionalMediationAvailable(); }) : Promise.resolve(false),
    capabilities,
  ]).then(function (results) {
    var caps = results[2];
    // getClientCapabilities() (where present) is the browser's own, more precise answer.
    var platform = typeof caps.passkeyPlatformAuthenticator === 'boolean' ? caps.passkeyPlatformAuthenticator || results[0] : results[0];
    var autofill = typeof caps.conditionalGet === 'boolean' ? caps.conditionalGet : results[1];
    var hybrid = webauthn ? (typeof caps.hybridTransport === 'boolean' ? caps.hybridTransport : null) : false;
    cell('webauthn', webauthn);
    cell('platform', platform);
    cell('autofill', autofill);
    cell('hybrid', hybrid);
    var summary = !webauthn ? strings.summary_none : platform ? strings.summary_ready : strings.summary_partial;
    document.getElementById('check-summary').textContent = summary;
    section.dataset.done = 'true';
  });
})();
