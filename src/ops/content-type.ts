/** Content-Type from the file extension, as aws-cli and s5cmd set it; octet-stream otherwise. */
const TYPES: Record<string, string> = {
  html: 'text/html', htm: 'text/html', css: 'text/css', js: 'text/javascript', mjs: 'text/javascript',
  json: 'application/json', map: 'application/json', txt: 'text/plain', md: 'text/markdown', csv: 'text/csv',
  xml: 'application/xml', yaml: 'application/yaml', yml: 'application/yaml', svg: 'image/svg+xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
  ico: 'image/vnd.microsoft.icon', avif: 'image/avif', pdf: 'application/pdf', zip: 'application/zip',
  gz: 'application/gzip', tgz: 'application/gzip', tar: 'application/x-tar', zst: 'application/zstd',
  wasm: 'application/wasm', mp4: 'video/mp4', webm: 'video/webm', mp3: 'audio/mpeg', woff: 'font/woff',
  woff2: 'font/woff2', ttf: 'font/ttf', parquet: 'application/vnd.apache.parquet',
};

export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  const slash = name.lastIndexOf('/');
  if (dot <= slash + 1) return 'application/octet-stream';
  return TYPES[name.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
