/**
 * The lookup API on localhost: plays API Gateway's part (REST API, Lambda proxy integration),
 * turning each HTTP request into an APIGatewayProxyEvent for the real lookup handler.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LOOKUP_ROUTES } from '../lib/platform-spec.js';
import { type LocalIdentity, verifySigV4 } from './iam-auth.js';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

interface CompiledRoute {
  readonly method: string;
  readonly resource: string;
  readonly pattern: RegExp;
  readonly params: string[];
}

const compile = (method: string, resource: string): CompiledRoute => {
  const params: string[] = [];
  const source = resource
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param) return segment.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
      params.push(param[1] as string);
      return '([^/]+)';
    })
    .join('/');
  return { method, resource, pattern: new RegExp(`^${source}$`), params };
};

const ROUTES = LOOKUP_ROUTES.map((r) => compile(r.method, r.resource));
const MAX_BODY_BYTES = 1024 * 1024;

function problemResponse(res: ServerResponse, status: number, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status, detail }));
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RangeError('body too large');
    chunks.push(chunk);
  }
  return chunks.length ? Buffer.concat(chunks).toString('utf8') : null;
}

/** API Gateway decodes path parameters; an undecodable one is passed on as it came. */
const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export function toProxyEvent(
  req: IncomingMessage,
  url: URL,
  route: CompiledRoute,
  body: string | null,
  identity?: LocalIdentity,
): APIGatewayProxyEvent {
  const match = route.pattern.exec(url.pathname) as RegExpExecArray;
  const pathParameters: Record<string, string> = {};
  route.params.forEach((name, i) => {
    pathParameters[name] = safeDecode(match[i + 1] as string);
  });
  const query: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    multi[k] = [...(multi[k] ?? []), v];
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
  const requestId = randomUUID();
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(multi).length ? multi : null,
    pathParameters,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      stage: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.resource,
      identity: {
        accessKey: identity?.accessKeyId ?? null,
        accountId: '000000000000',
        apiKey: null,
        apiKeyId: null,
        caller: identity?.role ?? null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: identity?.role ?? null,
        userAgent: req.headers['user-agent'] ?? null,
        userArn: identity?.arn ?? null,
      },
    },
  };
}

export interface LocalApi {
  readonly url: string;
  close(): Promise<void>;
}

/** IAM auth as API Gateway does it: a valid SigV4 signature by one of these identities. */
export interface LocalIamAuth {
  readonly identities: readonly LocalIdentity[];
  readonly region: string;
}

/** Serves the handler on 127.0.0.1 (port 0 = a free port), behind IAM auth when `auth` is given. */
export async function startLocalApi(handler: ProxyHandler, port = 0, auth?: LocalIamAuth): Promise<LocalApi> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const route = ROUTES.find((r) => r.pattern.test(url.pathname));
      if (!route) return problemResponse(res, 404, `no route for ${url.pathname}`);
      let body: string | null;
      try {
        body = await readBody(req);
      } catch {
        res.writeHead(413, { 'content-type': 'application/problem+json' });
        return res.end(
          JSON.stringify({ title: 'Payload Too Large', status: 413, detail: 'body over 1 MiB' }),
        );
      }
      let identity: LocalIdentity | undefined;
      if (auth) {
        const verdict = await verifySigV4(auth.identities, {
          method: req.method ?? 'GET',
          url,
          headers: req.headers,
          body,
          region: auth.region,
        });
        if (!verdict.ok) {
          // API Gateway's own answer to a request IAM auth refuses.
          res.writeHead(403, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'IncompleteSignatureException',
          });
          return res.end(JSON.stringify({ message: verdict.message }));
        }
        identity = verdict.identity;
      }
      let result: APIGatewayProxyResult;
      try {
        result = await handler(toProxyEvent(req, url, route, body, identity));
      } catch {
        // API Gateway answers 502 when the integration itself fails; so does this.
        res.writeHead(502, { 'content-type': 'application/problem+json' });
        return res.end(
          JSON.stringify({ title: 'Bad Gateway', status: 502, detail: 'the lookup function failed' }),
        );
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
      res.writeHead(result.statusCode, headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
