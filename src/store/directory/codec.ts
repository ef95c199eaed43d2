// How a user is stored on Redis: the profile JSON (everything but the id and the assignment,
// which lives in the org's prov hash), shared by the directory and the call scripts' replies.

import type { User, UserInput } from '../../domain/types.js';

export function userFrom(id: string, profile: string, providerId: string | null | undefined): User {
  const p = JSON.parse(profile) as Omit<User, 'id' | 'providerId'>;
  return { id, ...p, numbers: p.numbers ?? [], providerId: providerId ?? null };
}

/** The profile JSON put_user stores (it appends createdAt and updatedAt). */
export function profileOf(input: UserInput, numbers: string[]): string {
  const p: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) p[k] = v;
  p.region = input.region;
  p.numbers = numbers;
  return JSON.stringify(p);
}
