/**
 * The chat's sign-in tokens: short-lived JWTs (HS256, made and checked with `jose`) whose `sub` is the username.
 * `POST /api/login` issues them; the chat's `authenticate` verifies them at every handshake and every in-band
 * refresh, and `POST /api/admin` verifies them at every command. Nothing about a session is stored on the server: a
 * token is good until its `exp`, so a short lifetime is what bounds a stolen one.
 */
import { randomBytes } from 'node:crypto'
import { errors, jwtVerify, SignJWT } from 'jose'
import { isUsername } from './chat-rules.js'

/** The `iss` of the chat's tokens, checked on every verification. */
export const TOKEN_ISSUER = 'parley-chat/login'
/**
 * The `aud` of the chat's tokens, checked on every verification: a token another service signed with the same
 * secret (another audience) does not sign anyone in here.
 */
export const TOKEN_AUDIENCE = 'parley-chat'
/**
 * The one algorithm signed and accepted. Pinned, so a token cannot pick its own (`alg: none`, or an asymmetric
 * algorithm with the secret passed off as a public key).
 */
export const TOKEN_ALGORITHM = 'HS256'
/** How long a token lives unless `CHAT_TOKEN_TTL_SECONDS` says otherwise. */
export const DEFAULT_TOKEN_TTL_SECONDS = 15 * 60
/** An HS256 key needs at least the hash's 256 bits (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32
/** Longer tokens are refused before any parsing: the chat's are about 200 characters. */
const MAX_TOKEN_LENGTH = 2_048

/** What `POST /api/login` answers: the token, when it expires (ms since the epoch, its `exp`), and whom it names. */
export interface IssuedToken {
  readonly token: string
  readonly expiresAt: number
  readonly user: string
}

/** A verified token: the user it names and when it expires (ms since the epoch). */
export interface VerifiedToken {
  readonly user: string
  readonly expiresAt: number
}

/** Issues and verifies the chat's tokens with one key. */
export interface ChatAuth {
  /** How long each token lives, in seconds. */
  readonly ttlSeconds: number
  /** Where the key comes from, for the start-up lines. */
  readonly description: string
  /** A signed token for `user` (a valid username; the caller has checked it may sign in). */
  issueToken(user: string): Promise<IssuedToken>
  /**
   * The user a token names, or `null` for anything but an unexpired token this key signed with HS256 for the chat's
   * issuer and audience: a forged, tampered, `alg: none`, expired or foreign token, a bare username, garbage.
   */
  verifyToken(token: string | undefined): Promise<VerifiedToken | null>
}

/**
 * The chat's token settings from the environment: `CHAT_JWT_SECRET` (at least 32 bytes; every node of one chat
 * needs the same) or, without it, a random key made now, so tokens die with the process; `CHAT_TOKEN_TTL_SECONDS`
 * (default {@link DEFAULT_TOKEN_TTL_SECONDS}). A bad value throws at once, at start-up.
 */
export function createChatAuth(env: NodeJS.ProcessEnv = process.env): ChatAuth {
  const ttlSeconds = tokenTtlSeconds(env)
  const secret = env['CHAT_JWT_SECRET']
  let key: Uint8Array
  let source: string
  if (secret === undefined || secret === '') {
    key = randomBytes(MIN_SECRET_BYTES)
    source =
      'a random key made at start-up, so sign-ins end with this process ' +
      '(set CHAT_JWT_SECRET, 32+ characters, to keep them across restarts and share them between nodes)'
  } else {
    key = new TextEncoder().encode(secret)
    if (key.byteLength < MIN_SECRET_BYTES) {
      throw new Error(`CHAT_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes (HS256), got ${key.byteLength}`)
    }
    source = 'CHAT_JWT_SECRET'
  }
  return {
    ttlSeconds,
    description: `JWTs (HS256) that live ${ttlSeconds} s, signed with ${source}`,
    async issueToken(user) {
      if (!isUsername(user)) throw new TypeError(`Not a username: ${JSON.stringify(user)}`)
      // Whole seconds, as `iat` and `exp` are (RFC 7519 §2 NumericDate), so `expiresAt` is exactly `exp`.
      const now = Math.floor(Date.now() / 1_000)
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
        .setSubject(user)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(key)
      return { token, expiresAt: (now + ttlSeconds) * 1_000, user }
    },
    async verifyToken(token) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [TOKEN_ALGORITHM],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['sub', 'iat', 'exp'],
        })
        return isUsername(payload.sub) && typeof payload.exp === 'number' ? { user: payload.sub, expiresAt: payload.exp * 1_000 } : null
      } catch (error) {
        // Every way a token can be wrong is a JOSEError: a refusal. Anything else is a bug, and `authenticate`
        // answers a throw with a retryable 503 rather than telling a user their token is bad.
        if (error instanceof errors.JOSEError) return null
        throw error
      }
    },
  }
}

function tokenTtlSeconds(env: NodeJS.ProcessEnv): number {
  const value = env['CHAT_TOKEN_TTL_SECONDS']
  if (value === undefined || value === '') return DEFAULT_TOKEN_TTL_SECONDS
  const seconds = Number(value)
  // At least 2: `iat` is rounded down to the second, so a 1 s token could be dead on arrival.
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 86_400) {
    throw new Error(`CHAT_TOKEN_TTL_SECONDS must be whole seconds from 2 to 86400, got ${JSON.stringify(value)}`)
  }
  return seconds
}
