import { expect } from 'chai';
import nodemailer from 'nodemailer';
import { startSmtpSink } from '../helpers/smtp-sink.ts';
import type { SmtpSink } from '../helpers/smtp-sink.ts';

describe('smtp sink', () => {
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
  });

  after(async () => {
    await sink.close();
  });

  afterEach(() => {
    sink.clear();
  });

  it('receives a mail sent with nodemailer', async () => {
    expect(sink.url).to.equal(`smtp://127.0.0.1:${sink.port}`);
    const transport = nodemailer.createTransport(sink.url);
    try {
      await transport.sendMail({
        from: 'Tobira <noreply@id.example.test>',
        to: 'Alice@Example.test',
        subject: 'Your sign-in code',
        text: 'Code: 123456',
        html: '<p>Code: <b>123456</b></p>',
        headers: { 'X-Tobira-Purpose': 'otp' },
      });
    } finally {
      transport.close();
    }
    const mail = await sink.waitFor({ to: 'alice@example.test', subject: 'Your sign-in code' });
    expect(mail.to).to.deep.equal(['alice@example.test']);
    expect(mail.from).to.equal('noreply@id.example.test');
    expect(mail.subject).to.equal('Your sign-in code');
    expect(mail.text.trim()).to.equal('Code: 123456');
    expect(mail.html).to.contain('<b>123456</b>');
    expect(mail.headers['x-tobira-purpose']).to.equal('otp');
    const byPredicate = await sink.waitFor((m) => /\d{6}/.test(m.text), 100);
    expect(byPredicate).to.equal(mail);
    expect(sink.messages).to.have.length(1);
  });

  it('rejects waitFor with a clear message on timeout', async () => {
    const started = Date.now();
    const outcome = await sink.waitFor({ to: 'nobody@example.test', subject: /never/ }, 150).then(
      () => new Error('expected a timeout'),
      (err: unknown) => err,
    );
    expect(outcome).to.be.instanceOf(Error);
    expect((outcome as Error).message).to.match(
      /no mail matching to nobody@example\.test, subject \/never\/ within 150 ms; received: none/,
    );
    expect(Date.now() - started).to.be.within(140, 1000);
  });
});
