import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { loadConfig, ConfigError } from '../../src/config/load.ts';

/** The problems loadConfig reports for `env` (fails when it accepts it). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).message).to.contain((error as ConfigError).problems[0]);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

const key = () => randomBytes(32).toString('base64url');

/** A complete production environment. */
const production = () => ({
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com',
  DATABASE_URL: 'postgres://tobira@db.internal:5432/tobira',
  REDIS_URL: 'rediss://cache.internal:6380',
  SMTP_URL: 'smtps://mail.internal:465',
  COOKIE_KEYS: `${key()},${key()}`,
  DATA_ENCRYPTION_KEY: key(),
});

describe('configuration', () => {
  const dataDir = () => mkdtempSync(join(tmpdir(), 'tobira-config-'));

  describe('production', () => {
    it('refuses to start with nothing set and lists every missing setting at once', () => {
      const problems = problemsOf({ NODE_ENV: 'production', DATA_DIR: dataDir() });
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'ISSUER', 'COOKIE_KEYS', 'DATA_ENCRYPTION_KEY']) {
        expect(problems.filter((p) => p.startsWith(name)), name).to.have.length(1);
      }
      expect(problems).to.have.length(6);
    });

    for (const name of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'ISSUER', 'COOKIE_KEYS', 'DATA_ENCRYPTION_KEY'] as const) {
      it(`refuses to start without ${name} and names it`, () => {
        const env: Record<string, string> = production();
        delete env[name];
        const problems = problemsOf(env);
        expect(problems).to.have.length(1);
        expect(problems[0]).to.match(new RegExp(`^${name} .*(required|https)`));
      });
    }

    it('refuses an http:// ISSUER', () => {
      expect(problemsOf({ ...production(), ISSUER: 'http://id.example.com' })).to.deep.equal(['ISSUER must be set to an https:// URL in production']);
    });

    it('does not invent secrets in production (no secrets file is written)', () => {
      const dir = dataDir();
      problemsOf({ NODE_ENV: 'production', DATA_DIR: dir });
      expect(existsSync(join(dir, 'secrets.json'))).to.equal(false);
    });

    it('accepts a complete production environment and derives the WebAuthn RP from ISSUER', () => {
      const config = loadConfig(production());
      expect(config.env).to.equal('production');
      expect(config.webauthnRpId).to.equal('id.example.com');
      expect(config.webauthnOrigins).to.deep.equal(['https://id.example.com']);
      expect(config.cookieKeys).to.have.length(2);
      expect(config.demo).to.equal(false);
    });
  });

  describe('bad values', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['DATABASE_URL', { DATABASE_URL: 'mysql://db/tobira' }, /^DATABASE_URL: must be a postgres:\/\/ URL$/],
      ['REDIS_URL', { REDIS_URL: 'http://cache' }, /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/],
      ['SMTP_URL', { SMTP_URL: 'mail.example.com' }, /^SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL$/],
      ['COOKIE_KEYS', { COOKIE_KEYS: 'short' }, /^COOKIE_KEYS: each cookie key needs at least 32 characters$/],
      ['DATA_ENCRYPTION_KEY', { DATA_ENCRYPTION_KEY: 'c2VjcmV0' }, /^DATA_ENCRYPTION_KEY: must be 32 bytes, base64url/],
      ['PORT', { PORT: 'eighty' }, /^PORT must be a whole number from 0 to 65535 \(got "eighty"\)$/],
      ['PORT', { PORT: '70000' }, /^PORT must be a whole number from 0 to 65535 \(got "70000"\)$/],
      ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }, /^LOG_LEVEL: .*"info"/],
      ['ISSUER', { ISSUER: 'not a url' }, /^ISSUER: must be an http:\/\/ or https:\/\/ URL$/],
      ['WEBAUTHN_ORIGINS', { WEBAUTHN_ORIGINS: 'https://id.example.com,example.com' }, /^WEBAUTHN_ORIGINS: each origin must be an http:\/\/ or https:\/\/ URL$/],
      ['MAIL_FROM', { MAIL_FROM: 'Tobira' }, /^MAIL_FROM: must be an address/],
      ['TRUST_PROXY', { TRUST_PROXY: 'yes' }, /^TRUST_PROXY must be true or false \(got "yes"\)$/],
    ];
    for (const [name, env, message] of cases) {
      it(`says what is wrong with ${name}=${Object.values(env)[0]}, and nothing else`, () => {
        const problems = problemsOf({ NODE_ENV: 'development', DATA_DIR: dataDir(), ...env });
        expect(problems).to.have.length(1);
        expect(problems[0]).to.match(message);
      });
    }

    it('lists several bad values together', () => {
      const problems = problemsOf({ NODE_ENV: 'development', DATA_DIR: dataDir(), PORT: 'x', REDIS_URL: 'x', LOG_LEVEL: 'x' });
      expect(problems.map((p) => p.split(/[ :]/)[0])).to.have.members(['PORT', 'REDIS_URL', 'LOG_LEVEL']);
    });

    it('reports bad values in production too, next to what is missing', () => {
      const env: Record<string, string> = { ...production(), DATABASE_URL: 'mysql://x' };
      delete env.SMTP_URL;
      expect(problemsOf(env)).to.have.members(['DATABASE_URL: must be a postgres:// URL', 'SMTP_URL is required in production (mail delivery)']);
    });
  });

  describe('development defaults', () => {
    it('starts with nothing set: embedded stores, demo on, secrets generated once and kept', () => {
      const dir = dataDir();
      const first = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
      expect(first.databaseUrl).to.equal(undefined);
      expect(first.redisUrl).to.equal(undefined);
      expect(first.demo).to.equal(true);
      expect(first.dataEncryptionKey).to.match(/^[A-Za-z0-9_-]{43}$/);
      const second = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
      expect(second.dataEncryptionKey).to.equal(first.dataEncryptionKey);
      expect(second.cookieKeys).to.deep.equal(first.cookieKeys);
    });

    it('derives ISSUER from PORT when only PORT is set', () => {
      const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir(), PORT: '4100' });
      expect(config.issuer).to.equal('http://localhost:4100');
      expect(config.webauthnOrigins).to.deep.equal(['http://localhost:4100']);
    });
  });
});
