import type { Translate } from '../i18n/i18n.ts';

/**
 * The strings of the step-up panel (`views/account/step-up-panel.eta`, `static/step-up.js`),
 * in the page's language; `{to}` and `{minutes}` are filled in by the script.
 */
export function stepUpStrings(t: Translate): Record<string, string> {
  const keys = [
    'title', 'passkey_lead', 'passkey_button', 'totp_lead', 'sms_lead', 'email_lead', 'code_label', 'code_required',
    'verify', 'resend', 'resent', 'cancel', 'status_waiting', 'status_cancelled', 'status_done',
  ];
  const strings: Record<string, string> = Object.fromEntries(keys.map((k) => [k, t(`account.step_up.${k}`, { to: '{to}', minutes: '{minutes}' })]));
  strings.working = t('common.working');
  strings.unavailable = t('errors.service.unavailable');
  strings.internal = t('errors.internal');
  return strings;
}
