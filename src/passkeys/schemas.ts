import { z } from 'zod';

const b64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);

/** An AuthenticationResponseJSON as browsers send it, with size limits. */
export const authenticationResponseSchema = z.object({
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(4096),
    signature: b64url(1024),
    userHandle: b64url(128).optional().nullable(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional().nullable(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

/** A RegistrationResponseJSON as browsers send it, with size limits. */
export const registrationResponseSchema = z.object({
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(16384),
    authenticatorData: b64url(8192).optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: b64url(4096).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional().nullable(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

export type AuthenticationResponse = z.infer<typeof authenticationResponseSchema>;
export type RegistrationResponse = z.infer<typeof registrationResponseSchema>;
