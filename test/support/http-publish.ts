/**
 * `POST <baseUrl>/api/publish` as a backend sends it: bearer key, JSON content type. A string
 * `body` is sent as is (for malformed JSON); anything else is JSON-encoded. `headers` override.
 */
export function postPublish(
  baseUrl: string,
  apiKey: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${baseUrl}/api/publish`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
