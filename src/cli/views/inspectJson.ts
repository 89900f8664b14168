// How inspect commands print objects: a JSON array indented by 4 spaces, with the HTML-sensitive
// characters escaped as Go's encoder does, so output reads the same as `docker ... inspect`.

export function inspectJson(values: readonly unknown[]): string {
  return escapeLikeGo(JSON.stringify(values, null, 4)) + '\n';
}

/** These characters can only occur inside JSON strings, so replacing them everywhere is safe. */
function escapeLikeGo(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
