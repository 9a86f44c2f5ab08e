/** HTTP responses of the lookup API: JSON bodies, and RFC 9457 problem details for every error. */
import type { APIGatewayProxyResult } from 'aws-lambda';

const SECURITY_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...SECURITY_HEADERS },
  body: JSON.stringify(body),
});

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const problem = (
  status: number,
  type: string,
  detail: string,
  instance?: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): APIGatewayProxyResult => ({
  statusCode: status,
  headers: { 'content-type': 'application/problem+json', ...SECURITY_HEADERS, ...headers },
  body: JSON.stringify({
    type: `https://feature-platform.dev/problems/${type}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(instance ? { instance } : {}),
    ...extra,
  }),
});
