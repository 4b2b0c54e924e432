// Services (issue 12, apps): the address a meshlet's endpoints carry, so other members reach its
// published ports: --advertise-address when given, else the host of its XRPC endpoint.
export function advertisedHost(configured: string | undefined, endpoint: string): string {
  if (configured) return configured
  try {
    const h = new URL(endpoint).hostname
    return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
  } catch {
    return ''
  }
}
