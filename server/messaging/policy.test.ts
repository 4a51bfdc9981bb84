import { describe, expect, it } from 'vitest';
import { canAddMembers, canPost, canRemove, canSetRole, readPositionShown, speaksInRoom, successor } from './policy.js';

describe('conversation policy', () => {
  it('only owner/admin/moderator post in channels; everyone in groups and directs', () => {
    expect(canPost('channel', 'member')).toBe(false);
    expect(canPost('channel', 'moderator')).toBe(true);
    expect(canPost('group', 'member')).toBe(true);
    expect(canPost('direct', 'member')).toBe(true);
  });
  it('channel members neither type, broadcast receipts nor list members; staff and group members do', () => {
    expect(speaksInRoom('channel', 'member')).toBe(false);
    expect(speaksInRoom('channel', 'moderator')).toBe(true);
    expect(speaksInRoom('group', 'member')).toBe(true);
  });
  it('succession: the longest-standing admin, else moderator, else member', () => {
    const m = (userId: string, role: 'admin' | 'moderator' | 'member', joinedAt: string) => ({ userId, role, joinedAt });
    const t = (n: number) => `2026-01-0${n}T00:00:00.000Z`;
    expect(successor([m('a', 'member', t(1)), m('b', 'admin', t(3)), m('c', 'admin', t(2)), m('d', 'moderator', t(1))])?.userId).toBe('c');
    expect(successor([m('a', 'member', t(1)), m('d', 'moderator', t(4))])?.userId).toBe('d');
    expect(successor([m('b', 'member', t(2)), m('a', 'member', t(2)), m('c', 'member', t(1))])?.userId).toBe('c');
    expect(successor([])).toBeUndefined();
  });
  it('adds: moderators and up, never in directs', () => {
    expect(canAddMembers('group', 'moderator')).toBe(true);
    expect(canAddMembers('group', 'member')).toBe(false);
    expect(canAddMembers('direct', 'owner')).toBe(false);
  });
  it('removal: moderators remove members only; admins not owners', () => {
    expect(canRemove('group', 'moderator', 'member')).toBe(true);
    expect(canRemove('group', 'moderator', 'moderator')).toBe(false);
    expect(canRemove('group', 'admin', 'moderator')).toBe(true);
    expect(canRemove('group', 'admin', 'owner')).toBe(false);
    expect(canRemove('group', 'owner', 'admin')).toBe(true);
    expect(canRemove('group', 'member', 'member')).toBe(false);
  });
  it('roles: owner grants anything; admin only below admin', () => {
    expect(canSetRole('group', 'owner', 'member', 'admin')).toBe(true);
    expect(canSetRole('group', 'admin', 'member', 'moderator')).toBe(true);
    expect(canSetRole('group', 'admin', 'member', 'admin')).toBe(false);
    expect(canSetRole('group', 'admin', 'admin', 'member')).toBe(false);
    expect(canSetRole('group', 'moderator', 'member', 'moderator')).toBe(false);
  });
  it('read position: shown to its owner always, to others only when shared', () => {
    expect(readPositionShown(true, false)).toBe(true);
    expect(readPositionShown(false, false)).toBe(false);
    expect(readPositionShown(false, true)).toBe(true);
  });
});
