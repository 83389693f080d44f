import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const problemsOf = (env: Record<string, string>) => {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected config problems');
  return result.problems;
};

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const result = loadConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({
      port: 3000,
      listenSocket: undefined,
      nodeId: hostname(),
      redisUrl: undefined,
      corsOrigins: [],
      maxPayloadBytes: 65536,
      logLevel: 'info',
      publishApiKeyGenerated: true,
    });
    expect(result.config.publishApiKey.length).toBeGreaterThanOrEqual(32);
  });

  it('reads every variable', () => {
    const result = loadConfig({
      PORT: '8081',
      LISTEN_SOCKET: '/run/push/node-7.sock',
      NODE_ID: 'node-7.eu',
      REDIS_URL: 'redis://cache:6380/0',
      PUBLISH_API_KEY: 'a-very-long-secret-key',
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
      MAX_PAYLOAD_BYTES: '2048',
      LOG_LEVEL: 'debug',
    });
    expect(result).toEqual({
      ok: true,
      config: {
        port: 8081,
        listenSocket: '/run/push/node-7.sock',
        nodeId: 'node-7.eu',
        redisUrl: 'redis://cache:6380/0',
        publishApiKey: 'a-very-long-secret-key',
        publishApiKeyGenerated: false,
        corsOrigins: ['https://a.example.com', 'http://localhost:5173'],
        maxPayloadBytes: 2048,
        logLevel: 'debug',
      },
    });
  });

  it('treats empty variables as unset (as compose files produce them)', () => {
    const result = loadConfig({ PORT: '', REDIS_URL: ' ', PUBLISH_API_KEY: '', NODE_ID: '' });
    expect(result.ok && result.config.port === 3000 && result.config.redisUrl === undefined).toBe(
      true,
    );
  });

  it('accepts "*" as any origin', () => {
    const result = loadConfig({ CORS_ORIGINS: '*' });
    expect(result.ok && result.config.corsOrigins).toBe('*');
  });

  it('reports one line per bad variable, naming it and the bad value', () => {
    const problems = problemsOf({
      PORT: '70000',
      NODE_ID: 'no spaces',
      REDIS_URL: 'http://redis:6379',
      PUBLISH_API_KEY: 'short',
      CORS_ORIGINS: 'https://ok.example.com,not-an-origin',
      MAX_PAYLOAD_BYTES: '12kb',
      LOG_LEVEL: 'verbose',
    });
    expect(problems).toHaveLength(7);
    expect(problems).toContain('PORT: must be a whole number between 0 and 65535 (got "70000")');
    expect(problems.find((p) => p.startsWith('NODE_ID:'))).toContain('"no spaces"');
    expect(problems.find((p) => p.startsWith('REDIS_URL:'))).toContain('redis://');
    expect(problems).toContain('PUBLISH_API_KEY: must be at least 16 characters');
    expect(problems.find((p) => p.startsWith('CORS_ORIGINS:'))).toContain('"not-an-origin"');
    expect(problems.find((p) => p.startsWith('MAX_PAYLOAD_BYTES:'))).toContain('(got "12kb")');
    expect(problems.find((p) => p.startsWith('LOG_LEVEL:'))).toContain('"verbose"');
  });

  it('never echoes the API key in a problem', () => {
    const [problem] = problemsOf({ PUBLISH_API_KEY: 'secret-ish' });
    expect(problem).not.toContain('secret-ish');
  });

  it.each([
    ['PORT', '-1'],
    ['PORT', '3.5'],
    ['MAX_PAYLOAD_BYTES', '100'],
    ['MAX_PAYLOAD_BYTES', String(64 * 1024 * 1024)],
    ['REDIS_URL', 'not a url'],
    ['CORS_ORIGINS', 'https://example.com/path'],
    ['LISTEN_SOCKET', 'run/push/node.sock'],
    ['LISTEN_SOCKET', `/run/${'x'.repeat(110)}.sock`],
  ])('rejects %s=%s', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${name}: `)).toBe(true);
  });
});
