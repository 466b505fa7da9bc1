// Tobira's JSON API from the browser, shared by the hosted pages' scripts. One call:
//   TobiraApi.call(url, body, { method, unavailable, failed, onUnauthorized })
// resolves with the answer's JSON, or rejects with an Error whose message is the server's
// localized message (or `failed` / `unavailable` when there is none) and which carries every
// field of the error answer (`code` = its `error`, and e.g. `credentialId`).
(function () {
  'use strict';
  function call(url, body, options) {
    var o = options || {};
    var init = { method: o.method || 'POST', headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (init.method === 'POST') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body || {});
    }
    return fetch(url, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401 && o.onUnauthorized) o.onUnauthorized();
        if (!res.ok) {
          var err = new Error(data.message || (res.status >= 500 ? o.unavailable : o.failed));
          Object.keys(data).forEach(function (k) { if (k !== 'message' && k !== 'error') err[k] = data[k]; });
          err.code = data.error;
          throw err;
        }
        return data;
      });
    }, function () { throw new Error(o.unavailable); });
  }
  window.TobiraApi = { call: call };
})();
