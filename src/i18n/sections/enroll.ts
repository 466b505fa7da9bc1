import { defineMessages } from '../catalog.ts';

/**
 * Register a passkey on another device: the email, the QR code panel on the settings page, the
 * confirmation page the link opens, and the step-up and registration on that device.
 */
export const enroll = defineMessages({
  title: 'Register a passkey on this device',
  confirm: {
    heading: 'Register a passkey on this device?',
    lead: 'You asked to add a passkey to the Tobira account with member number ending in {{last4}}.',
    expires: 'This link works once. It expires in {{minutes}} minutes.',
    button: 'Register',
    note: 'Opening this page changes nothing. Choose “Register” only if you asked for this link yourself.',
    not_you: 'Did not ask for this? Close this page. Nothing happens unless “Register” is chosen.',
  },
  invalid: {
    title: 'This link no longer works',
    body: 'It has expired, was already used, or was cancelled (for example because the account’s email address changed).',
    next: 'On your other device, open Settings → Passkeys and ask for a new link.',
  },
  step_up: {
    heading: 'Confirm it’s you',
    lead: 'Before a passkey is added to your account, confirm it’s you.',
    step: 'Step {{n}} of {{total}}',
    passkey: 'Next, use one of your existing passkeys. If it is on your phone, choose the option to use a phone or tablet and scan the QR code.',
    totp: 'Next, enter the 6-digit code from your authenticator app.',
    sms: 'Next, we text a 6-digit code to the phone number on your account.',
    email: 'Next, we email a 6-digit code to the address on your account.',
  },
  register: {
    heading: 'Create a passkey on this device',
    lead: 'You will sign in with this device’s fingerprint, face or screen lock.',
    password_note: 'This is your first passkey: when it is created, your password is turned off and you sign in with passkeys from then on.',
    name_label: 'Passkey name (optional)',
    name_hint: 'For example “Work laptop”. Leave it empty to use the name of your passkey provider.',
    create: 'Create a passkey',
    status_waiting: 'Follow your browser’s prompt to create your passkey…',
    status_cancelled: 'The passkey was not created. You can try again.',
  },
  done: {
    heading: 'Passkey registered',
    body: 'The passkey “{{name}}” was added to your account. You can now use this device to sign in.',
    mail: 'We sent a confirmation to your email address.',
    close: 'You can close this page.',
  },
  noscript: 'Turn on JavaScript in your browser to register a passkey.',
  unsupported: 'This browser cannot create passkeys. Open the link in another browser, or see how to prepare your device.',
  mail: {
    request: {
      subject: 'Passkey registration request received',
      body: [
        'We received a request to register a passkey on another device for your Tobira account (member number {{memberNumber}}).',
        'Open the link below on the device you want to use, then choose “Register”. The link works once and expires in {{minutes}} minutes.',
        'If you did not ask for this, ignore this email: nothing changes unless the link is used.',
      ],
    },
    open: 'Register a passkey',
  },
}, {
  title: 'この端末でパスキーを登録',
  confirm: {
    heading: 'この端末にパスキーを登録しますか？',
    lead: '会員番号の末尾が {{last4}} の Tobira アカウントへのパスキー追加がリクエストされました。',
    expires: 'このリンクは 1 回だけ使えます。あと {{minutes}} 分で期限が切れます。',
    button: '登録する',
    note: 'このページを開いただけでは何も変更されません。ご自身でリクエストした場合のみ「登録する」を選んでください。',
    not_you: '心当たりがない場合は、このページを閉じてください。「登録する」を選ばない限り何も起こりません。',
  },
  invalid: {
    title: 'このリンクは使用できません',
    body: '有効期限が切れたか、すでに使用されたか、取り消されました（アカウントのメールアドレスが変更された場合など）。',
    next: 'もう一方の端末で「設定」→「パスキー」を開き、新しいリンクをリクエストしてください。',
  },
  step_up: {
    heading: 'ご本人確認',
    lead: 'アカウントにパスキーを追加する前に、ご本人であることを確認します。',
    step: 'ステップ {{n}}/{{total}}',
    passkey: '次に、登録済みのパスキーを使います。パスキーがスマートフォンにある場合は、「スマートフォンまたはタブレットを使用」を選んで QR コードを読み取ってください。',
    totp: '次に、認証アプリに表示されている 6 桁のコードを入力します。',
    sms: '次に、アカウントに登録されている電話番号に 6 桁のコードを SMS でお送りします。',
    email: '次に、アカウントに登録されているメールアドレスに 6 桁のコードをお送りします。',
  },
  register: {
    heading: 'この端末でパスキーを作成',
    lead: 'この端末の指紋認証・顔認証・画面ロックでログインできるようになります。',
    password_note: 'これは最初のパスキーです。作成するとパスワードは無効になり、以後はパスキーでログインします。',
    name_label: 'パスキーの名前（任意）',
    name_hint: '例：「仕事用のノートパソコン」。空欄の場合はパスキー提供元の名前を使います。',
    create: 'パスキーを作成',
    status_waiting: 'ブラウザの案内に従ってパスキーを作成してください…',
    status_cancelled: 'パスキーは作成されませんでした。もう一度お試しください。',
  },
  done: {
    heading: 'パスキーを登録しました',
    body: 'パスキー「{{name}}」をアカウントに追加しました。これからはこの端末でログインできます。',
    mail: '確認のメールをお送りしました。',
    close: 'このページは閉じてかまいません。',
  },
  noscript: 'パスキーを登録するには、ブラウザで JavaScript を有効にしてください。',
  unsupported: 'このブラウザではパスキーを作成できません。別のブラウザでリンクを開くか、端末の準備方法をご確認ください。',
  mail: {
    request: {
      subject: 'パスキー登録のリクエストを受け付けました',
      body: [
        'Tobira アカウント（会員番号 {{memberNumber}}）について、別の端末でのパスキー登録のリクエストを受け付けました。',
        'パスキーを登録したい端末で下のリンクを開き、「登録する」を選んでください。リンクは 1 回だけ使え、{{minutes}} 分で期限が切れます。',
        'お心当たりがない場合は、このメールを無視してください。リンクが使われない限り、何も変更されません。',
      ],
    },
    open: 'パスキーを登録する',
  },
});
