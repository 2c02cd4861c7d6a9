/** The dashboard's sign-in, as a browser's form POST sends it; the redirect is left to the test. */
export function signInForm(key: string): RequestInit {
  return {
    method: 'POST',
    body: new URLSearchParams({ key }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  };
}
