import { defineMessages } from '../catalog.ts';

/** "Prepare your device" and the FAQ: a browser check, what to do per platform, answers. */
export const help = defineMessages({
  title: 'Prepare your device for passkeys',
  lead: 'A passkey lets you sign in with your fingerprint, face or screen lock instead of a password. Here is how to get your device ready.',
  check: {
    heading: 'Check this browser',
    running: 'Checking this browser…',
    yes: 'Yes',
    no: 'No',
    unknown: 'Not reported',
    webauthn: 'Passkeys supported by this browser',
    platform: 'Passkeys with this device’s screen lock (fingerprint, face or PIN)',
    autofill: 'Passkeys offered in the sign-in field’s suggestions',
    hybrid: 'Use a passkey from a phone nearby (QR code and Bluetooth)',
    summary_ready: 'This browser is ready for passkeys.',
    summary_partial: 'This browser supports passkeys. Without a screen lock passkey here, you can use a passkey on your phone: choose “Sign in with a passkey” and scan the QR code.',
    summary_none: 'This browser cannot use passkeys. Update it or use another browser, or sign in with a one-time email code.',
    noscript: 'Turn on JavaScript to check this browser.',
  },
  platforms: {
    iphone: {
      name: 'iPhone and iPad',
      steps: [
        'iOS or iPadOS 16 or later.',
        'Turn on a passcode with Face ID or Touch ID: Settings → Face ID & Passcode.',
        'Passkeys are saved in iCloud Keychain (Settings → your name → iCloud → Passwords and Keychain) and are available on your other Apple devices.',
      ],
    },
    android: {
      name: 'Android',
      steps: [
        'Android 9 or later, with Google Password Manager (part of Google Play services).',
        'Turn on a screen lock (PIN, pattern, fingerprint or face): Settings → Security.',
        'Passkeys are saved to your Google account and are available on your other Android devices and in Chrome.',
      ],
    },
    windows: {
      name: 'Windows',
      steps: [
        'Windows 10 or 11 with Windows Hello: Settings → Accounts → Sign-in options (PIN, face or fingerprint).',
        'Use a current version of Edge, Chrome or Firefox.',
        'To use the passkey on your phone instead, choose “Use a phone or tablet” and scan the QR code. Turn on Bluetooth on both the computer and the phone.',
      ],
    },
    mac: {
      name: 'Mac',
      steps: [
        'macOS 13 Ventura or later, with Safari 16 or later or a current Chrome, Edge or Firefox.',
        'Set a login password and Touch ID if your Mac has it: System Settings → Touch ID & Password.',
        'Passkeys are saved in iCloud Keychain (System Settings → your name → iCloud → Passwords and Keychain).',
      ],
    },
    general: 'On every device: keep the screen lock on (a passkey is unlocked by it), and turn on Bluetooth when you use your phone to sign in on a computer nearby.',
  },
  faq: {
    heading: 'Frequently asked questions',
    no_device: {
      q: 'I don’t have a device that supports passkeys. Can I still sign in?',
      a: 'Yes. On the sign-in page, choose “Email me a one-time code instead”: we email a 6-digit code to your verified address. On a computer without passkeys, you can also use a passkey on your phone by scanning a QR code.',
    },
    biometrics: {
      q: 'Is my fingerprint or face shared with Tobira?',
      a: 'No. Your biometric data never leaves your device: it only unlocks the passkey there. Tobira stores only a public key, which is of no use to anyone without your device.',
    },
    where: {
      q: 'Where can I use my passkey?',
      a: 'In every app and website that signs you in through Tobira. One passkey works for all of them.',
    },
    lost: {
      q: 'What if I lose my phone or computer?',
      a: 'Passkeys saved in iCloud Keychain or Google Password Manager come back when you sign in to that account on a new device. Otherwise, use “Lost your passkey?” on the sign-in page to prove it’s you by email and create a new passkey.',
    },
  },
  recover_link: 'Lost your passkey?',
}, {
  title: 'パスキーを使うための端末の準備',
  lead: 'パスキーを使うと、パスワードの代わりに指紋認証・顔認証・画面ロックでログインできます。端末の準備方法をご案内します。',
  check: {
    heading: 'このブラウザを確認',
    running: 'このブラウザを確認しています…',
    yes: '対応',
    no: '非対応',
    unknown: '不明',
    webauthn: 'このブラウザでのパスキーの利用',
    platform: 'この端末の画面ロック（指紋・顔・PIN）によるパスキー',
    autofill: 'ログイン欄の候補へのパスキーの表示',
    hybrid: '近くのスマートフォンのパスキーの利用（QR コードと Bluetooth）',
    summary_ready: 'このブラウザはパスキーを使う準備ができています。',
    summary_partial: 'このブラウザはパスキーに対応しています。この端末の画面ロックでパスキーを使えない場合は、「パスキーでログイン」を選んで QR コードを読み取れば、スマートフォンのパスキーを使えます。',
    summary_none: 'このブラウザではパスキーを使えません。ブラウザを更新するか別のブラウザを使うか、メールのワンタイムコードでログインしてください。',
    noscript: 'ブラウザを確認するには JavaScript を有効にしてください。',
  },
  platforms: {
    iphone: {
      name: 'iPhone・iPad',
      steps: [
        'iOS または iPadOS 16 以降が必要です。',
        'Face ID または Touch ID とパスコードを設定してください：「設定」→「Face ID とパスコード」。',
        'パスキーは iCloud キーチェーン（「設定」→ ユーザ名 →「iCloud」→「パスワードとキーチェーン」）に保存され、ほかの Apple デバイスでも使えます。',
      ],
    },
    android: {
      name: 'Android',
      steps: [
        'Android 9 以降と Google パスワード マネージャー（Google Play 開発者サービスに含まれます）が必要です。',
        '画面ロック（PIN、パターン、指紋、顔）を設定してください：「設定」→「セキュリティ」。',
        'パスキーは Google アカウントに保存され、ほかの Android デバイスや Chrome でも使えます。',
      ],
    },
    windows: {
      name: 'Windows',
      steps: [
        'Windows 10 または 11 で Windows Hello を設定してください：「設定」→「アカウント」→「サインイン オプション」（PIN、顔、指紋）。',
        '最新版の Edge、Chrome、Firefox をお使いください。',
        'スマートフォンのパスキーを使う場合は「スマートフォンまたはタブレットを使用」を選んで QR コードを読み取ります。パソコンとスマートフォンの両方で Bluetooth をオンにしてください。',
      ],
    },
    mac: {
      name: 'Mac',
      steps: [
        'macOS 13 Ventura 以降と、Safari 16 以降または最新版の Chrome、Edge、Firefox が必要です。',
        'ログインパスワードと、Mac が対応していれば Touch ID を設定してください：「システム設定」→「Touch ID とパスワード」。',
        'パスキーは iCloud キーチェーン（「システム設定」→ ユーザ名 →「iCloud」→「パスワードとキーチェーン」）に保存されます。',
      ],
    },
    general: 'どの端末でも、画面ロックをオンにしておいてください（パスキーは画面ロックで解除します）。近くのパソコンでスマートフォンを使ってログインするときは、Bluetooth をオンにしてください。',
  },
  faq: {
    heading: 'よくある質問',
    no_device: {
      q: 'パスキーに対応した端末を持っていません。ログインできますか？',
      a: 'はい。ログイン画面で「メールに届くコードでログインする」を選ぶと、確認済みのメールアドレスに 6 桁のコードをお送りします。パスキーに対応していないパソコンでも、QR コードを読み取ってスマートフォンのパスキーを使えます。',
    },
    biometrics: {
      q: '指紋や顔の情報は Tobira に送られますか？',
      a: 'いいえ。生体情報が端末の外に出ることはありません。生体情報は端末上でパスキーを解除するためだけに使われます。Tobira が保存するのは公開鍵だけで、お使いの端末がなければ誰にも役に立ちません。',
    },
    where: {
      q: 'パスキーはどこで使えますか？',
      a: 'Tobira でログインするすべてのアプリとウェブサイトで使えます。1 つのパスキーですべてに対応します。',
    },
    lost: {
      q: 'スマートフォンやパソコンをなくしたら？',
      a: 'iCloud キーチェーンや Google パスワード マネージャーに保存したパスキーは、新しい端末で同じアカウントにログインすると戻ってきます。それ以外の場合は、ログイン画面の「パスキーをなくした場合」から、メールでご本人確認をして新しいパスキーを作成してください。',
    },
  },
  recover_link: 'パスキーをなくした場合',
});
