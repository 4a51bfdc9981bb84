// Room names. A socket is in its user's room and in one room per current conversation.
export const userRoom = (userId: string): string => `u:${userId}`;
export const conversationRoom = (conversationId: string): string => `c:${conversationId}`;
