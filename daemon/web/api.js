// The HTTP API of PROTOCOL.md section 5: form-encoded POSTs answered with
// {"code":0,"msg":"","data":...} or {"code":-1,"msg":"<reason>"}.

/** An API refusal: the server's reason and the HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function post(path, fields, token) {
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers,
      body: new URLSearchParams(fields).toString(),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(`cannot reach the server (${e.message})`, 0);
  }
  let answer;
  try {
    answer = await res.json();
  } catch {
    throw new ApiError(`unexpected answer from the server (HTTP ${res.status})`, res.status);
  }
  if (!res.ok || answer.code !== 0) {
    throw new ApiError(answer.msg || `HTTP ${res.status}`, res.status);
  }
  return answer.data;
}

/** Creates an account; resolves to {id, token, nickname}. */
export function register(mobile, password, nickname) {
  const fields = { mobile, password };
  if (nickname) fields.nickname = nickname;
  return post('/user/register', fields);
}

/** Logs in; resolves to {id, token, nickname}. */
export function login(mobile, password) {
  return post('/user/login', { mobile, password });
}

/** The calls that act for a logged-in user. */
export class Api {
  constructor(token) {
    this.token = token;
  }

  /** Befriends (both ways) the user with this id. */
  addFriendById(id) {
    return post('/contact/addfriend', { dstid: String(id) }, this.token);
  }

  /** Befriends (both ways) the user registered with this mobile number. */
  addFriendByMobile(mobile) {
    return post('/contact/addfriend', { mobile }, this.token);
  }

  /** [{id, nickname}] */
  friends() {
    return post('/contact/loadfriend', {}, this.token);
  }

  /** [{id, name, ownerid, members?}] */
  groups() {
    return post('/contact/loadcommunity', {}, this.token);
  }

  /** Resolves to the new group {id, name, ownerid}. */
  createGroup(name) {
    return post('/contact/createcommunity', { name }, this.token);
  }

  joinGroup(gid) {
    return post('/contact/joincommunity', { dstid: String(gid) }, this.token);
  }

  leaveGroup(gid) {
    return post('/contact/leavecommunity', { dstid: String(gid) }, this.token);
  }
}
