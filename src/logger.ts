import pino, { type Logger } from 'pino';

/**
 * JSON logs. Anything that could carry a secret is redacted by path as a second line of
 * defence; the first is never logging bodies, query strings or mail contents.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'tobira' },
    redact: {
      paths: ['*.code', '*.password', '*.secret', '*.client_secret', '*.token', '*.access_token', '*.refresh_token', '*.id_token', 'req.headers.cookie', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  }, destination);
}
