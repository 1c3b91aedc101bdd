// One stable colour per peer (hashed from its peer id), so a peer's cursor, selection and presence dot match
// in every window.
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42a5a5', '#f032e6', '#9a6324', '#808000', '#000075'];

export function colorOf(peerId: string): string {
  let hash = 0;
  for (let i = 0; i < peerId.length; i++) hash = (hash * 31 + peerId.charCodeAt(i)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}
